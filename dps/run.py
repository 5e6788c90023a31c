"""Command line: ``python -m dps.run ALGO --env SPEC [options]``.

::

    python -m dps.run --list
    python -m dps.run pgpe --env tmaze:length=20
    python -m dps.run pgpe --env cartpole:poles=2,velocities=false --policy lstm:hidden=8 \\
        --generations 500 --popsize 40 --episodes 1 --seed 3 --out runs/dp
    python -m dps.run --resume runs/dp [--generations 800]
    python -m dps.run evaluate runs/dp [--episodes 1000] [--seed 7]

The common flags are the fields of :class:`dps.runner.RunConfig`; the algorithm's own
options are flags generated from its ``Config`` dataclass (``python -m dps.run pgpe
--help``); ``--list`` is generated from the registries. User mistakes print one
``dps: error: …`` line and exit with status 2; Ctrl-C keeps the checkpoint and exits with 130.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import typing
from typing import Annotated, Optional

from .algorithms import ALGORITHMS
from .envs.registry import ENVS
from .errors import UserError
from .policies import POLICIES
from .registry import import_modules
from .runner import Interrupted, RunConfig, RunFailed, evaluate_run, train
from .runner.config import flag_name, is_list
from .runner.defaults import MEASURED
from .spec import Range, convert
from .tasks import TASKS

#: torch intra-op threads: more than this only oversubscribes (torch crashes on ~10^5)
THREADS = Annotated[int, Range(1, 256)]


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # argparse takes only -1 and -.5 for negative numbers; "--lr -1e-3" and "--x -inf" were
        # "expected one argument": these are values too (-inf then meets the finite check)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$",
                                                   re.IGNORECASE)

    def error(self, message):  # one line, no usage dump
        raise UserError(f"{message} (see: python -m dps.run {self.prog.split()[-1]} --help)")


def _flag_type(annotation, name):
    def conv(text):
        try:
            return convert(text, annotation, f"--{name.replace('_', '-')}")
        except UserError as exc:  # argparse would replace a ValueError's message by its own
            raise argparse.ArgumentTypeError(str(exc)) from None
    conv.__name__ = getattr(annotation, "__name__", str(annotation))
    return conv


def _run_flags(p: argparse.ArgumentParser) -> None:
    """The flags of :class:`RunConfig` (one per field) plus the process-only ones."""
    hints = typing.get_type_hints(RunConfig)
    for f in RunConfig.flags():
        name = flag_name(f)
        if hints[f.name] is bool:
            p.add_argument(name, action="store_true", default=None, help=f.metadata["help"])
        elif is_list(hints[f.name]):
            p.add_argument(name, dest=f.name, action="append", default=None, metavar=f.metadata.get("metavar", "VALUE"),
                           help=f.metadata["help"])
        else:
            # a flag whose text "none" is a value of its own (--curriculum none: off, where an
            # unset flag means the per-env default) is read as a plain string
            kind = str if f.metadata.get("none_is_a_value") else hints[f.name]
            p.add_argument(name, default=None, metavar="VALUE", type=_flag_type(kind, f.name),
                           help=f.metadata["help"])
    p.add_argument("--resume", metavar="DIR",
                   help="continue the run in DIR (only --generations, upward, --workers and --tensorboard may "
                        "differ from its config.json)")
    p.add_argument("--overwrite", action="store_true",
                   help="clear the existing run directory given by --out first (it must be a dps run directory)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=_flag_type(THREADS, "threads"), default=1,
                   help="torch intra-op and numpy BLAS/OpenMP threads, 1..256 (default 1: lock-step rollouts are "
                        "latency-bound; more threads only help very large populations)")


def _algo_parser(algo: str) -> tuple[argparse.ArgumentParser, list[str]]:
    entry = ALGORITHMS[algo]
    p = _Parser(prog=f"python -m dps.run {algo}", description=entry.summary,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    _run_flags(p)
    names: list[str] = []
    g = p.add_argument_group(f"{algo} options")
    for o in entry.options():
        if o.name in ("popsize", "episodes"):
            continue
        g.add_argument(f"--{o.name.replace('_', '-')}", dest=f"algo__{o.name}", default=None, metavar="VALUE",
                       type=_flag_type(o.annotation, o.name), help=f"{o.help} (default {o.default!r})")
        names.append(o.name)
    return p, names


def _list() -> None:
    for title, registry in (("algorithms (python -m dps.run ALGO --help):", ALGORITHMS),
                            ("environments (--env NAME:key=value,...):", ENVS),
                            ("tasks (--task NAME:key=value,..., evolino):", TASKS),
                            ("policies (--policy NAME:key=value,...):", POLICIES)):
        print(title)
        for line in registry.describe():
            print("  " + line)
    print("defaults measured over seeds (python -m dps.run COMMAND --seed S, no other flag; solved = greedy "
          "success >= 0.95, on the double pole a member that passed the published test):")
    for m in MEASURED:
        print("  " + m.line())


def _imports_in(argv: list[str]) -> list[str]:
    """The ``--import MODULE`` values of ``argv``, read before the parsers are built: a
    module may register the algorithm, env or policy the rest of the line names."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--import" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif arg.startswith("--import="):
            out.append(arg.partition("=")[2])
    return out


def _parse_training(argv: list[str]) -> tuple[RunConfig, argparse.Namespace]:
    """``ALGO --flag …``: the run's config and the parsed flags (``given``: the run flags set)."""
    algo = argv[0]
    p, names = _algo_parser(algo)
    a = p.parse_args(argv[1:])
    options = {n: getattr(a, f"algo__{n}") for n in names if getattr(a, f"algo__{n}") is not None}
    a.given = {f.name: getattr(a, f.name) for f in RunConfig.flags() if getattr(a, f.name) is not None}
    return RunConfig(algo=algo, algo_options=options, **a.given), a


def run_config(argv: list[str]) -> RunConfig:
    """The :class:`RunConfig` of a training command line ``ALGO --flag …`` (as ``python -m
    dps.run`` reads it), for scripts that run :func:`dps.runner.train` themselves."""
    return _parse_training(list(argv))[0]


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        import_modules(_imports_in(argv))
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
            p.add_argument("--episodes", type=_flag_type(int, "episodes"))
            p.add_argument("--seed", type=_flag_type(int, "seed"))
            p.add_argument("--threads", type=_flag_type(THREADS, "threads"), default=1)
            a = p.parse_args(argv[1:])
            _set_threads(a.threads)
            print(json.dumps(evaluate_run(a.dir, a.episodes, a.seed), indent=2))
            return 0
        if argv[0] == "--resume":
            p = _Parser(prog="python -m dps.run --resume")
            p.add_argument("--resume", required=True)
            p.add_argument("--generations", type=_flag_type(int, "generations"))
            p.add_argument("--workers", type=_flag_type(int, "workers"))
            p.add_argument("--tensorboard", action="store_true", default=None)
            p.add_argument("--quiet", action="store_true")
            p.add_argument("--threads", type=_flag_type(THREADS, "threads"), default=1)
            a = p.parse_args(argv)
            _set_threads(a.threads)
            changes = {k: getattr(a, k) for k in ("generations", "workers", "tensorboard") if getattr(a, k) is not None}
            run_dir = train(RunConfig(), resume=a.resume, quiet=a.quiet, changes=changes)
            _print_summary(run_dir)
            return 0
        cfg, a = _parse_training(argv)
        _set_threads(a.threads)
        changes = {"algo": cfg.algo, "algo_options": cfg.algo_options, **a.given} if a.resume else None
        run_dir = train(cfg, resume=a.resume, quiet=a.quiet, changes=changes, overwrite=a.overwrite)
        _print_summary(run_dir)
        return 0
    except UserError as exc:
        print(f"dps: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"\ndps: {_one_line(str(exc))}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before a run directory exists, or while evaluating: nothing to keep
        print("\ndps: interrupted", file=sys.stderr)
        return 130
    except RunFailed as exc:
        print(f"dps: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1


#: every character str.splitlines() breaks a line at
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _one_line(message: str) -> str:
    """``message`` with line breaks escaped: a value quoted unescaped (argparse's
    "unrecognized arguments: ...", a path) must not split the one error line."""
    return "".join(repr(c)[1:-1] if c in _LINE_BREAKS else c for c in message)


def _set_threads(n: int) -> None:
    """torch's intra-op threads and every BLAS / OpenMP pool numpy has loaded (pycma's
    eigendecompositions, the pseudo-inverse readouts): one bound for all of them, so that a
    run asked for one thread does not spin two pools on a shared machine."""
    import numpy  # noqa: F401 - its BLAS must be loaded for the limit to reach it
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(n)
    threadpool_limits(n)


def _print_summary(run_dir) -> None:
    path = run_dir / "summary.json"
    if path.exists():
        s = json.loads(path.read_text())
        ev = s.get("eval", {})
        print(f"run directory: {run_dir}")
        print(f"generations {s['generations']}  episodes {s['episodes']}  env steps {s['env_steps']}  "
              f"wall {s['wall_seconds']:.1f}s")
        if s.get("stop_reason"):
            print(s["stop_reason"])
        if s.get("first_success"):
            fs = s["first_success"]
            print(f"centre first met the success criterion after generation {fs['generation']} "
                  f"({fs['episodes']} episodes, {fs['wall_seconds']:.1f}s)")
        cur = s.get("curriculum")
        if cur:
            steps = ", ".join(f"{st['value']} from generation {st['generation']}" for st in cur["stages"])
            print(f"curriculum {cur['key']} {cur['start']}..{cur['end']}: reached {cur['reached']} ({steps}); "
                  f"eval on {cur['key']}={cur['end']}")
        kept = (s.get("selection") or {}).get("kept")
        if kept:
            scores = ", ".join(f"{k} {v:.4g}" for k, v in kept["scores"].items())
            print(f"returned: the centre of generation {kept['generation']}, kept by --select-on ({scores})")
        champions = s.get("champions")
        if champions:
            solved = champions["solved"]
            tested = f"{champions['tested']} champions tested, {champions['failed']} failed"
            if solved:
                print(f"returned: the best member of generation {solved['generation']}, which solved the task after "
                      f"{solved['episodes']} episodes ({tested})")
            else:
                print(f"no champion solved the task ({tested}); returned: the last centre")
        print("eval: " + json.dumps(ev))


if __name__ == "__main__":
    sys.exit(main())
