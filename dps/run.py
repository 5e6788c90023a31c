"""Command line: ``python -m dps.run ALGO --env SPEC [options]``.

::

    python -m dps.run --list
    python -m dps.run pgpe --env tmaze:length=20
    python -m dps.run pgpe --env cartpole:poles=2,velocities=false --policy lstm:hidden=8 \\
        --generations 500 --popsize 40 --episodes 1 --seed 3 --out runs/dp
    python -m dps.run --resume runs/dp [--generations 800]
    python -m dps.run evaluate runs/dp [--episodes 1000] [--seed 7]

The algorithm's own options are flags generated from its ``Config`` dataclass
(``python -m dps.run pgpe --help``). User mistakes print one ``dps: error: …`` line and
exit with status 2; Ctrl-C keeps the checkpoint and exits with 130.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from typing import Optional

from .algorithms import ALGORITHMS, get_algorithm
from .envs.registry import describe_envs
from .errors import UserError
from .policies import describe_policies
from .runner import Interrupted, RunConfig, RunFailed, evaluate_run, train
from .spec import convert

COMMON_HELP = """common flags:
  --env SPEC          environment, NAME or NAME:key=value,... (see --list)
  --task SPEC         supervised sequence task (evolino only), e.g. sines:n=3
  --policy SPEC       policy, e.g. lstm:hidden=16, mlp:hidden=32, linear (default: per env)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise UserError(f"{message} (see: python -m dps.run {self.prog.split()[-1]} --help)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", help="environment spec NAME[:key=value,...] (see --list)")
    p.add_argument("--task", help="supervised sequence task spec (evolino), e.g. sines:n=3")
    p.add_argument("--policy", help="policy spec, e.g. lstm:hidden=16 (default: per env)")
    p.add_argument("--generations", type=int, help="generations / updates to run (default: per env)")
    p.add_argument("--popsize", type=int, help="population size (default: per env)")
    p.add_argument("--episodes", type=int, help="episodes per member per generation (default: per env)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument("--workers", type=int, default=1, help="worker processes for gym: envs (default 1)")
    p.add_argument("--out", help="run directory (default runs/ALGO_ENV_sSEED_TIME)")
    p.add_argument("--eval-episodes", type=int, help="greedy evaluation episodes at the end (default 100)")
    p.add_argument("--eval-every", type=int, help="evaluate the centre every N generations (default G/50)")
    p.add_argument("--stop-success", type=float,
                   help="stop once the centre's greedy success rate reaches this (default: per env; tmaze 1.0)")
    p.add_argument("--max-episodes", type=int,
                   help="budget in training episodes: stop after the generation that reaches it")
    p.add_argument("--eval-every-episodes", type=int,
                   help="also evaluate the centre each time the episode count crosses a multiple of this")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1: lock-step rollouts are latency-bound; "
                        "more threads only help very large populations)")


def _flag_type(annotation, name):
    def conv(text):
        return convert(text, annotation, f"--{name.replace('_', '-')}")
    conv.__name__ = getattr(annotation, "__name__", str(annotation))
    return conv


def _algo_parser(algo: str) -> tuple[argparse.ArgumentParser, list[str]]:
    entry = get_algorithm(algo)
    p = _Parser(prog=f"python -m dps.run {algo}", description=entry.summary,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p)
    names: list[str] = []
    Config = getattr(entry.load(), "Config", None)
    if Config is not None:
        hints = typing.get_type_hints(Config)
        g = p.add_argument_group(f"{algo} options")
        for f in dataclasses.fields(Config):
            if f.name in ("popsize", "episodes"):
                continue
            help_text = f.metadata.get("help", "")
            g.add_argument(f"--{f.name.replace('_', '-')}", dest=f"algo__{f.name}", default=None, metavar="VALUE",
                           type=_flag_type(hints.get(f.name, str), f.name),
                           help=f"{help_text} (default {f.default!r})")
            names.append(f.name)
    return p, names


def _list() -> None:
    print("algorithms:")
    for name, e in ALGORITHMS.items():
        print(f"  {name:<12} {e.summary}")
    print("environments (--env NAME:key=value,...):")
    for line in describe_envs():
        print("  " + line)
    try:
        from .tasks import describe_tasks
        print("tasks (--task, evolino):")
        for line in describe_tasks():
            print("  " + line)
    except ImportError:
        pass
    print("policies (--policy NAME:key=value,...):")
    for line in describe_policies():
        print("  " + line)


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help"):
            print(__doc__.strip())
            print("\nalgorithms: " + ", ".join(ALGORITHMS) + "  (python -m dps.run ALGO --help)")
            return 0
        if argv[0] == "--list":
            _list()
            return 0
        if argv[0] == "evaluate":
            p = _Parser(prog="python -m dps.run evaluate")
            p.add_argument("dir")
            p.add_argument("--episodes", type=int)
            p.add_argument("--seed", type=int)
            p.add_argument("--threads", type=int, default=1)
            a = p.parse_args(argv[1:])
            _set_threads(a.threads)
            print(json.dumps(evaluate_run(a.dir, a.episodes, a.seed), indent=2))
            return 0
        if argv[0] == "--resume":
            p = _Parser(prog="python -m dps.run --resume")
            p.add_argument("--resume", required=True)
            p.add_argument("--generations", type=int)
            p.add_argument("--quiet", action="store_true")
            p.add_argument("--threads", type=int, default=1)
            a = p.parse_args(argv)
            _set_threads(a.threads)
            run_dir = train(RunConfig(algo="", generations=a.generations), resume=a.resume, quiet=a.quiet)
            _print_summary(run_dir)
            return 0
        algo = argv[0]
        p, names = _algo_parser(algo)
        a = p.parse_args(argv[1:])
        _set_threads(a.threads)
        options = {n: getattr(a, f"algo__{n}") for n in names if getattr(a, f"algo__{n}") is not None}
        cfg = RunConfig(algo=algo, env=a.env, task=a.task, policy=a.policy, generations=a.generations,
                        popsize=a.popsize, episodes=a.episodes, seed=a.seed, device=a.device,
                        workers=a.workers, out=a.out, eval_episodes=a.eval_episodes,
                        eval_every=a.eval_every, stop_success=a.stop_success, max_episodes=a.max_episodes,
                        eval_every_episodes=a.eval_every_episodes, algo_options=options)
        run_dir = train(cfg, resume=a.resume, quiet=a.quiet)
        _print_summary(run_dir)
        return 0
    except UserError as exc:
        print(f"dps: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"\ndps: {exc}", file=sys.stderr)
        return 130
    except RunFailed as exc:
        print(f"dps: error: {exc}", file=sys.stderr)
        return 1


def _set_threads(n: int) -> None:
    if n < 1:
        raise UserError(f"--threads must be >= 1, got {n}")
    import torch
    torch.set_num_threads(n)


def _print_summary(run_dir) -> None:
    path = run_dir / "summary.json"
    if path.exists():
        s = json.loads(path.read_text())
        ev = s.get("eval", {})
        print(f"run directory: {run_dir}")
        print(f"generations {s['generations']}  episodes {s['episodes']}  env steps {s['env_steps']}  "
              f"wall {s['wall_seconds']:.1f}s")
        print("eval: " + json.dumps(ev))


if __name__ == "__main__":
    sys.exit(main())
