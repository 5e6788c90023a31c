"""The longest memory length each learner solves: T-maze and class-query (docs/MEMORY.md).

For each task, learner and seed, one run with a curriculum over the dependency length from
``--start`` to ``--max-length`` (×2 per stage: 10, 20, 40, … 640, 1000) and a budget of
``--budget`` training episodes, at the learner's defaults otherwise:

    python -m dps.run ALGO --env TASK:length=1000 --curriculum length=10..1000 --max-episodes 100000 \
        --generations 1000000 --seed S

A run **passes** a length when its greedy success there reaches 0.95: for a curriculum stage,
the centre's periodic greedy evaluation (the env's ``center_episodes``: 20 T-maze episodes,
100 class-query episodes) before the run moved on; for the last length, the final
evaluation (100 fresh episodes). Passing a length needs every shorter one passed first, so
one run gives its whole curve. A learner **solves** a length when ≥ ``--need`` of its seeds
pass it within the budget; the table gives the longest such length, and the plot the
fraction of seeds passing each length.

``ppo`` is sb3-contrib's RecurrentPPO (``experiments/sb3_peer.py``, the ``[bench]`` extra) on
the same dps env, one episode per gymnasium env, with the same curriculum rule: every
``--ppo-eval-every`` env steps (or, once an evaluation's episodes are longer, as many
training steps as an evaluation takes) its greedy success over the same number of episodes
is measured on the current length, and the length doubles at 0.95; the same episode budget,
and at most ``--ppo-max-steps`` env steps (sb3 steps one env slot at a time, ~1,500 steps/s
on one core here, so 100,000 episodes of a long task would take hours).

    python experiments/memory_length.py --tasks tmaze,class-query \
        --algos pgpe,cmaes,snes,guided-es,rpg,ppo --seeds 1-5 --jobs 2

Writes ``RESULTS/memory_length.md``, ``.jsonl`` (one object per run, with its command) and
``.png``; run directories go to ``--out`` (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "experiments")]

from tune_defaults import seeds_of  # noqa: E402

from dps.checkpoint import write_atomic, write_figure  # noqa: E402
from dps.runner.curriculum import Curriculum  # noqa: E402
from dps.runner.defaults import tuned  # noqa: E402


def curriculum(task: str, start: int, end: int) -> Curriculum:
    """The runs' curriculum: ``length`` from ``start`` to ``end``, ×2 at success 0.95."""
    return Curriculum.parse(f"length={start}..{end}", task, 2.0, 0.95)


def stages(task: str, start: int, end: int) -> list[int]:
    """The curriculum's lengths from ``start`` to ``end`` (the runner's own rule)."""
    cur = curriculum(task, start, end)
    out = [cur.start]
    while out[-1] < cur.end:
        out.append(cur.next(out[-1]))
    return out


def dps_command(task: str, algo: str, seed: int, args) -> list[str]:
    # the env at the longest length: a learner's defaults for it (RPG's class-query policy
    # depends on the length, dps/runner/defaults.py); the curriculum starts every run at --start
    return [sys.executable, "-m", "dps.run", algo, "--env", f"{task}:length={args.max_length}", "--curriculum",
            f"length={args.start}..{args.max_length}", "--max-episodes", str(args.budget), "--max-env-steps",
            str(args.max_env_steps), "--generations",
            "1000000", "--seed", str(seed), "--out", f"{args.out}/{task}_{algo}_s{seed}", "--quiet", "--overwrite"]


def _run(cmd: list[str]) -> str:
    """``cmd``'s stdout (one core: OMP_NUM_THREADS=1); its stderr ends the sweep if it fails."""
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout


def dps_run(task: str, algo: str, seed: int, args) -> dict:
    cmd = dps_command(task, algo, seed, args)
    _run(cmd)
    s = json.loads((ROOT / cmd[cmd.index("--out") + 1] / "summary.json").read_text())
    return {"passed": passed_lengths(s, args.max_length), "final_success": s["eval"]["success_rate"],
            "episodes": s["episodes"], "env_steps": s["env_steps"], "command": " ".join(["python", *cmd[1:]])}


def passed_lengths(summary: dict, end: int) -> dict:
    """``{length: training episodes when it was passed}`` from a curriculum run's summary.json:
    a stage is passed when the next one began; the last length when the final evaluation
    reaches 0.95 (counted at the run's first success)."""
    st = summary["curriculum"]["stages"]
    passed = {str(a["value"]): b["episodes"] for a, b in zip(st, st[1:])}
    if st[-1]["value"] == end and summary["eval"]["success_rate"] >= 0.95:
        passed[str(end)] = (summary.get("first_success") or {}).get("episodes", summary["episodes"])
    return passed


def ppo_run(task: str, seed: int, args) -> dict:
    """RecurrentPPO with the curriculum rule (module docstring), in this process."""
    import torch
    from sb3_peer import OneEpisodeGym, greedy_score, recurrent_ppo
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    lengths = stages(task, args.start, args.max_length)
    spec = curriculum(task, args.start, args.max_length).spec_at
    venv = make_vec_env(lambda: OneEpisodeGym(spec(lengths[0])), n_envs=8, seed=seed)
    probe = OneEpisodeGym(spec(lengths[0]))
    model = recurrent_ppo(venv, seed)
    n_eval = tuned("ppo", task.split(":")[0], {})[0]["center_episodes"]  # as the dps learners' centre

    class Stages(BaseCallback):
        def __init__(self):
            super().__init__()
            self.stage, self.episodes, self.next, self.passed, self.k = 0, 0, args.ppo_eval_every, {}, 0

        def _on_step(self):
            self.episodes += int(self.locals["dones"].sum())
            if self.num_timesteps < self.next:
                return self.episodes < args.budget and self.num_timesteps < args.ppo_max_steps
            self.k += 1
            L = lengths[self.stage]
            probe.retarget(spec(L))
            score = greedy_score(model, probe, n_eval, 10_000 + 1000 * self.k)
            if score >= 0.95:
                self.passed[str(L)] = self.episodes
                if self.stage + 1 == len(lengths):
                    return False
                self.stage += 1
                venv.env_method("retarget", spec(lengths[self.stage]))
            # an evaluation steps n_eval episodes of the current length: at least as many
            # training steps go between two of them
            self.next = self.num_timesteps + max(args.ppo_eval_every, n_eval * lengths[self.stage])
            return self.episodes < args.budget and self.num_timesteps < args.ppo_max_steps

    cb = Stages()
    model.learn(total_timesteps=10 ** 12, callback=cb)
    # the final evaluation (100 fresh episodes) where the run reached the last length: an
    # evaluation of a 1000-step task costs PPO minutes, and a shorter stage's run has no use for it
    target, final = str(args.max_length), None
    if cb.stage + 1 == len(lengths):
        probe.retarget(spec(args.max_length))
        final = greedy_score(model, probe, 100, 99_000)
        if final >= 0.95:  # as for the dps learners: the final evaluation decides the last length
            cb.passed.setdefault(target, cb.episodes)
        else:
            cb.passed.pop(target, None)
    return {"passed": cb.passed, "final_success": final, "episodes": cb.episodes, "env_steps": model.num_timesteps,
            "command": f"python experiments/memory_length.py --tasks {task} --algos ppo --seeds {seed} "
                       f"--budget {args.budget} --ppo-eval-every {args.ppo_eval_every} "
                       f"--ppo-max-steps {args.ppo_max_steps}"}


def steps_cap(algo: str, args) -> int:
    return args.ppo_max_steps if algo == "ppo" else args.max_env_steps


def one(task: str, algo: str, seed: int, args) -> dict:
    load, t0 = os.getloadavg()[0], time.time()
    if algo == "ppo":  # a subprocess of its own, so that two jobs run on two cores
        cmd = [sys.executable, __file__, "--ppo-one", task, str(seed), "--budget", str(args.budget), "--start",
               str(args.start), "--max-length", str(args.max_length), "--ppo-eval-every", str(args.ppo_eval_every),
               "--ppo-max-steps", str(args.ppo_max_steps)]
        row = json.loads(_run(cmd).strip().splitlines()[-1])
    else:
        row = dps_run(task, algo, seed, args)
    return {"task": task, "algo": algo, "seed": seed, "budget": args.budget, "max_env_steps": steps_cap(algo, args),
            "max_length": args.max_length,
            **row, "wall_s": round(time.time() - t0, 1), "load": round(load, 2)}


def write_results(rows: list[dict], res: Path, args) -> None:
    need = args.need
    loads = [r["load"] for r in rows]
    groups = sorted({(r["task"], r["algo"], r["budget"], r["max_length"]) for r in rows})
    lines = ["# Longest memory length solved, per learner", "",
             f"`python experiments/memory_length.py` (this file keeps every run made with it; the per-run "
             f"commands are in the jsonl beside it). Curriculum from {args.start}, ×2 per stage. A length is "
             f"solved when ≥ {need} seeds pass it (greedy success ≥ 0.95) within the run's budget (training "
             f"episodes or env steps, whichever runs out first). Machine: {platform.machine()}, "
             f"{os.cpu_count()} cores, load average "
             f"{min(loads):.1f}–{max(loads):.1f} at the runs' starts.", "",
             "| task | learner | budget per run | seeds | longest solved | seeds passing each length | "
             "episodes to pass the longest solved: median | wall s: median |",
             "|---|---|---|---|---|---|---|---|"]
    of = {g: sorted((r for r in rows if (r["task"], r["algo"], r["budget"], r["max_length"]) == g),
                    key=lambda r: r["seed"]) for g in groups}
    curves = {}
    for task, algo, budget, top in groups:
        mine = of[task, algo, budget, top]
        Ls = stages(task, args.start, top)
        counts = [sum(str(L) in r["passed"] for r in mine) for L in Ls]
        solved = [L for L, c in zip(Ls, counts) if c >= min(need, len(mine))]
        longest = solved[-1] if solved else None
        eps = sorted(r["passed"][str(longest)] for r in mine if longest and str(longest) in r["passed"])
        med = statistics.median(eps) if eps else None
        walls = sorted(r["wall_s"] for r in mine)
        curves[(task, algo)] = (Ls, [c / len(mine) for c in counts])
        cap = {r.get("max_env_steps") for r in mine} - {None}
        lines.append(f"| {task} | {algo} | {budget:,}" + "".join(f" or {c / 1e6:g}M env steps" for c in cap)
                     + f" | {len(mine)} | {longest if longest else 'none'} | "
                     + ", ".join(f"{L}: {c}" for L, c in zip(Ls, counts)) + " | "
                     + (f"{med:,.0f}" if med is not None else "—") + f" | {walls[len(walls) // 2]:.0f} |")
    lines += ["", "Per run (seed: longest length passed, final greedy success at the target length, "
              "training episodes used):", ""]
    for task, algo, budget, top in groups:
        mine = of[task, algo, budget, top]
        cells = []
        for r in mine:
            best = max((int(k) for k in r["passed"]), default=None)
            final = "not evaluated" if r["final_success"] is None else f"{r['final_success']:.2f}"
            cells.append(f"s{r['seed']} {best or '<' + str(args.start)} ({final}, {r['episodes']:,})")
        lines.append(f"* {task}, {algo}: " + "; ".join(cells))
    write_atomic(res / "memory_length.md", "\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    tasks = sorted({t for t, _ in curves})
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        mine = [(algo, Ls, frac) for (t, algo), (Ls, frac) in sorted(curves.items()) if t == task]
        for i, (algo, Ls, frac) in enumerate(mine):
            shift = 0.015 * (i - (len(mine) - 1) / 2)  # equal curves stay visible side by side
            ax.plot(Ls, [f + shift for f in frac], marker="os^vD<>"[i % 7], label=algo)
        ax.set_xscale("log")
        ax.set_xlabel("length")
        ax.set_ylabel("fraction of seeds passing (curves offset by ±0.04)")
        ax.set_title(f"{task}: curriculum from {args.start}, {args.budget:,} episodes per run")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=8)
    fig.tight_layout()
    write_figure(fig, res / "memory_length.png", 90)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--ppo-one":
        ap = argparse.ArgumentParser(prog="memory_length.py --ppo-one")
        ap.add_argument("task")
        ap.add_argument("seed", type=int)
        for k, v in (("--budget", 100_000), ("--start", 10), ("--max-length", 1000), ("--ppo-eval-every", 10_000),
                     ("--ppo-max-steps", 500_000)):
            ap.add_argument(k, type=int, default=v)
        a = ap.parse_args(sys.argv[2:])
        print(json.dumps(ppo_run(a.task, a.seed, a)))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="tmaze,class-query")
    ap.add_argument("--algos", default="pgpe,cmaes,snes,guided-es,rpg,ppo")
    ap.add_argument("--seeds", default="1-5", help="a range 1-5 or a list 1,2,3")
    ap.add_argument("--start", type=int, default=10, help="the curriculum's first length")
    ap.add_argument("--max-length", type=int, default=1000)
    ap.add_argument("--budget", type=int, default=100_000, help="training episodes per run")
    ap.add_argument("--max-env-steps", type=int, default=20_000_000,
                    help="and training env steps per run (a run stuck at a long length costs steps, not episodes)")
    ap.add_argument("--need", type=int, default=4, help="seeds that must pass a length for it to count as solved")
    ap.add_argument("--ppo-eval-every", type=int, default=10_000, help="env steps between PPO's greedy evaluations")
    ap.add_argument("--ppo-max-steps", type=int, default=500_000,
                    help="PPO also stops after this many env steps (sb3 steps one slot at a time)")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (one core each)")
    ap.add_argument("--out", default="runs/memory_length")
    ap.add_argument("--results", default=str(ROOT / "experiments/results/memory_length"))
    ap.add_argument("--table-only", action="store_true", help="rewrite the table from the jsonl, run nothing")
    ap.add_argument("--rerun", action="store_true", help="run again what the jsonl already has (default: skip it)")
    args = ap.parse_args()
    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    jsonl = res / "memory_length.jsonl"
    old = [json.loads(line) for line in jsonl.read_text().splitlines()] if jsonl.exists() else []
    todo = [] if args.table_only else [(t, a, s) for t in args.tasks.split(",") for a in args.algos.split(",")
                                       for s in seeds_of(args.seeds)]
    key = lambda r: (r["task"], r["algo"], r["seed"], r["budget"], r.get("max_env_steps"), r["max_length"])  # noqa: E731
    rows = list(old)
    if not args.rerun:
        have = {key(r) for r in old}
        todo = [(t, a, s) for t, a, s in todo
                if (t, a, s, args.budget, steps_cap(a, args), args.max_length) not in have]

    def save(row):
        nonlocal rows
        rows = [r for r in rows if key(r) != key(row)] + [row]
        write_atomic(jsonl, "".join(json.dumps(r) + "\n" for r in rows))
        print(json.dumps({k: v for k, v in row.items() if k != "command"}), flush=True)

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for done in as_completed([pool.submit(one, *job, args) for job in todo]):
            save(done.result())
    if rows:
        write_results(rows, res, args)
        print(f"wrote {res / 'memory_length.md'}")


if __name__ == "__main__":
    main()
