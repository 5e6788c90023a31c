"""The POPGym memory table: every POPGym env of one difficulty × dps's learners × seeds at a
fixed budget of training env steps, with a memoryless policy and a random policy as floors.

Each cell is ``python -m dps.run ALGO --env gym:popgym:ID --max-env-steps BUDGET --seed S``
with the CLI's defaults for gym envs otherwise (so the table shows what a user gets), and
its score is the final greedy evaluation of the trained centre (summary.json
``eval.mean_return``, ``--eval-episodes`` fresh episodes). POPGym scales every env's
rewards so that an episode's return lies in [-1, 1]; the scores are those returns.

Methods (``--methods``):

* ``pgpe``, ``cmaes``, ``snes``, ``rpg`` — the default LSTM policy of gym envs;
* ``mlp`` — PGPE with a memoryless ``mlp:hidden=16`` policy: what memory adds;
* ``random`` — uniformly random actions (``action_space.sample()``), evaluated with
  gymnasium directly (no dps code), the lower floor.

Runs go to ``--out`` (default ``runs/popgym``; one directory per cell, skipped when its
summary.json exists, so an interrupted table resumes). The script writes ``table.md``
(mean ± standard error over seeds), ``summary.json`` (every cell's scores) and
``scores.png`` (one panel per env: every seed's final greedy return per method) into
``--out``; ``--replot SUMMARY`` rewrites the table and the plot from a summary.json.

    python experiments/popgym_table.py                               # Easy, 3 seeds, 250k steps
    python experiments/popgym_table.py --envs RepeatPreviousEasy --methods pgpe,random --seeds 1
    python experiments/popgym_table.py --replot experiments/results/popgym/summary.json --out docs/popgym
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from dps.checkpoint import write_atomic, write_figure  # noqa: E402

LEARNERS = {"pgpe": ("pgpe", []), "cmaes": ("cmaes", []), "snes": ("snes", []), "rpg": ("rpg", []),
            "mlp": ("pgpe", ["--policy", "mlp:hidden=16"])}
METHODS = list(LEARNERS) + ["random"]


def popgym_ids(level: str) -> list[str]:
    import gymnasium
    import popgym  # noqa: F401  (registers the ids)
    return sorted(i for i in gymnasium.registry if i.startswith("popgym-") and i.endswith(f"{level}-v0"))


def short(env_id: str) -> str:
    return env_id.removeprefix("popgym-").removesuffix("-v0")


def run_learner(env_id: str, method: str, seed: int, budget: int, eval_episodes: int, out: Path) -> dict:
    run_dir = out / short(env_id) / f"{method}_s{seed}"
    summary = run_dir / "summary.json"
    if not summary.exists():
        algo, extra = LEARNERS[method]
        cmd = [sys.executable, "-m", "dps.run", algo, "--env", f"gym:popgym:{env_id}", "--max-env-steps", str(budget),
               "--generations", str(10 ** 9), "--seed", str(seed), "--eval-episodes", str(eval_episodes),
               "--out", str(run_dir), "--quiet", *extra]
        if run_dir.exists():
            cmd.append("--overwrite")
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                              env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        if done.returncode != 0:
            return {"env": env_id, "method": method, "seed": seed, "error": done.stderr.strip().splitlines()[-1:]}
        print(f"{short(env_id):32s} {method:6s} s{seed}  {time.perf_counter() - t0:6.1f}s", flush=True)
    s = json.loads(summary.read_text())
    return {"env": env_id, "method": method, "seed": seed, "score": s["eval"]["mean_return"],
            "env_steps": s["env_steps"], "wall_seconds": s["wall_seconds"]}


def run_random(env_id: str, seed: int, episodes: int) -> dict:
    import gymnasium
    import numpy as np
    env = gymnasium.make(env_id, disable_env_checker=True)
    env.action_space.seed(seed)
    returns = []
    for k in range(episodes):
        env.reset(seed=seed * 100_003 + k)
        total, done, steps = 0.0, False, 0
        while not done and steps < 10_000:
            _, r, term, trunc, _ = env.step(env.action_space.sample())
            total, done, steps = total + float(r), term or trunc, steps + 1
        returns.append(total)
    return {"env": env_id, "method": "random", "seed": seed, "score": float(np.mean(returns))}


def mean_se(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, float("nan")
    var = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
    return m, math.sqrt(var / len(xs))


def table(results: list[dict], envs: list[str], methods: list[str]) -> str:
    head = "| env | " + " | ".join(methods) + " |\n|---|" + "---|" * len(methods) + "\n"
    rows = []
    for e in envs:
        cells = []
        for m in methods:
            xs = [r["score"] for r in results if r["env"] == e and r["method"] == m and "score" in r]
            if not xs:
                cells.append("—")
                continue
            mu, se = mean_se(xs)
            cells.append(f"{mu:.2f} ± {se:.2f}" if math.isfinite(se) else f"{mu:.2f}")
        best = max((i for i, c in enumerate(cells) if c != "—" and methods[i] not in ("random",)),
                   key=lambda i: float(cells[i].split()[0]), default=None)
        if best is not None:
            cells[best] = f"**{cells[best]}**"
        rows.append(f"| {short(e)} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def plot(results: list[dict], envs: list[str], methods: list[str], path: Path) -> None:
    """One panel per env: every seed's final greedy return per method (dots) and their
    mean (bar); the random policy's mean as a dotted line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols = 4
    rows = -(-len(envs) // cols)
    learners = [m for m in methods if m != "random"]
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.4 * rows), squeeze=False)
    for ax, e in zip(axes.flat, envs):
        for i, m in enumerate(learners):
            xs = [r["score"] for r in results if r["env"] == e and r["method"] == m and "score" in r]
            if xs:
                ax.bar(i, sum(xs) / len(xs), color=f"C{i}", alpha=0.35, bottom=0)
                ax.plot([i] * len(xs), xs, "o", color=f"C{i}", ms=3)
        rand = [r["score"] for r in results if r["env"] == e and r["method"] == "random"]
        if rand:
            ax.axhline(sum(rand) / len(rand), color="grey", ls=":", label="random")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xticks(range(len(learners)), learners, fontsize=7)
        ax.set_title(short(e), fontsize=9)
        ax.set_ylim(-1.25, 1.05)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(envs):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.supylabel("final greedy return (dots: seeds; bar: mean)")
    fig.tight_layout()
    write_figure(fig, path, 80)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--level", default="Easy", choices=["Easy", "Medium", "Hard"])
    p.add_argument("--envs", default=None, help="comma-separated short names (default: every env of the level)")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=int, default=250_000, help="training env steps per run")
    p.add_argument("--eval-episodes", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (one process each)")
    p.add_argument("--out", default="runs/popgym")
    p.add_argument("--replot", metavar="SUMMARY", help="only rewrite table.md and scores.png from a summary.json")
    a = p.parse_args(argv)
    if a.replot:
        results = json.loads(Path(a.replot).read_text())["results"]
        envs = sorted({r["env"] for r in results})
        methods = [m for m in METHODS if any(r["method"] == m for r in results)]
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "table.md", table(results, envs, methods))
        plot(results, envs, methods, out / "scores.png")
        print(table(results, envs, methods))
        return
    from joblib import Parallel, delayed

    envs = popgym_ids(a.level)
    if a.envs:
        wanted = set(a.envs.split(","))
        envs = [e for e in envs if short(e) in wanted]
    methods = a.methods.split(",")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        p.error(f"unknown method(s) {unknown}; accepted: {', '.join(METHODS)}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for seed in range(1, a.seeds + 1):
        for e in envs:
            for m in methods:
                if m == "random":
                    jobs.append(delayed(run_random)(e, seed, a.eval_episodes))
                else:
                    jobs.append(delayed(run_learner)(e, m, seed, a.budget, a.eval_episodes, out))
    results = Parallel(n_jobs=a.jobs, backend="threading")(jobs)
    failed = [r for r in results if "error" in r]
    for r in failed:
        print(f"failed: {short(r['env'])} {r['method']} s{r['seed']}: {r['error']}", file=sys.stderr)
    meta = {"command": " ".join(["python", "experiments/popgym_table.py", *(argv or sys.argv[1:])]),
            "level": a.level, "budget_env_steps": a.budget, "seeds": a.seeds, "eval_episodes": a.eval_episodes}
    write_atomic(out / "summary.json", json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    write_atomic(out / "table.md", table(results, envs, methods))
    plot(results, envs, methods, out / "scores.png")
    print(table(results, envs, methods))


if __name__ == "__main__":
    main()
