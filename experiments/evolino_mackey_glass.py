"""Evolino on Mackey-Glass at the CLI defaults: NRMSE₈₄ per seed for both outer loops, the curve
of NRMSE₈₄ vs. sequence evaluations, the effect of the multi-segment closed-loop fitness and of
the number of cells.

    python experiments/evolino_mackey_glass.py      # ≈ 6 min on one core

The learner gets the settings ``python -m dps.run evolino --task mackey-glass`` resolves to
(popsize 20 → ESP subpop 20 / CMA-ES λ 20, ESP trials 10, 100 generations, 10 cells with
peepholes); the test window is only used for the reported numbers. Writes
``experiments/results/evolino/evolino_mackey_glass.md`` (``--out`` to change).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dps.algorithms.evolino import Config, Evolino  # noqa: E402
from dps.checkpoint import write_atomic  # noqa: E402
from dps.policies import make_policy  # noqa: E402
from dps.tasks import make_task  # noqa: E402

CHECKPOINTS = (12, 25, 50, 100)   # generations at which the best-so-far net is tested


def run(outer: str, seed: int, hidden: int = 10, segments: int = 0, generations: int = 100) -> dict:
    task = make_task("mackey-glass")
    policy = make_policy(f"lstm:hidden={hidden},peepholes=true", (task.in_size,), task.out_size)
    size = {"subpop": 20} if outer == "esp" else {"cma_popsize": 20}
    learner = Evolino(policy, task, Config(outer=outer, segments=segments, baselines=False, **size), seed=seed)
    t0, curve = time.time(), []
    for g in range(1, generations + 1):
        learner.step()
        if g in CHECKPOINTS:
            curve.append((learner.episodes, task.evaluate(learner.model())[0]["nrmse84"]))
    return {"nrmse84": curve[-1][1], "curve": curve, "evals": learner.episodes, "wall": time.time() - t0,
            "train": -learner.best_fitness}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="experiments/results/evolino")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--hidden", type=int, nargs="+", default=[5, 10, 20])
    args = ap.parse_args()
    torch.set_num_threads(1)
    t_all = time.time()
    rows = []
    for outer in ("esp", "cmaes"):
        for segments, label in ((0, "10 segments (default)"), (1, "tail only (old)")):
            for seed in args.seeds:
                r = run(outer, seed, segments=segments)
                rows.append((outer, label, seed, r))
                print(outer, label, seed, f"{r['nrmse84']:.3g}", f"{r['wall']:.0f}s", flush=True)
    sizes = []
    for h in args.hidden:
        r = run("esp", args.seeds[0], hidden=h)
        sizes.append((h, r))
        print("hidden", h, f"{r['nrmse84']:.3g}", flush=True)
    load = os.getloadavg()
    lines = ["# Evolino on Mackey-Glass (CLI defaults)", "",
             f"Command: `python {' '.join(shlex.quote(a) for a in sys.argv)}` — total {(time.time() - t_all) / 60:.1f} "
             f"min, torch {torch.__version__}, 1 thread, load average at the end {load[0]:.1f} (2-core machine "
             "shared with another job). Seeds " + ", ".join(map(str, args.seeds)) + ". Budget: 100 generations; "
             "ESP 20 × 10 = 200 evaluations per generation (20,000), CMA-ES λ = 20 (2,000). Published Evolino "
             "NRMSE₈₄: 1.9·10⁻³ (Schmidhuber et al., Neural Computation 2007).", "",
             "## NRMSE₈₄ per seed", "",
             "| outer | fitness | " + " | ".join(f"seed {s}" for s in args.seeds) + " | median | train MSE (median) "
             "| wall s (median) |", "|---|---|" + "---|" * (len(args.seeds) + 3)]
    for outer in ("esp", "cmaes"):
        for label in ("10 segments (default)", "tail only (old)"):
            rs = [r for o, lab, _, r in rows if o == outer and lab == label]
            lines.append(f"| {outer} | {label} | " + " | ".join(f"{r['nrmse84']:.3g}" for r in rs)
                         + f" | {statistics.median(r['nrmse84'] for r in rs):.3g}"
                         + f" | {statistics.median(r['train'] for r in rs):.2g}"
                         + f" | {statistics.median(r['wall'] for r in rs):.0f} |")
    lines += ["", "## NRMSE₈₄ vs. evaluations (default fitness, median over seeds)", "",
              "| outer | " + " | ".join(f"gen {g}" for g in CHECKPOINTS) + " |", "|---|" + "---|" * len(CHECKPOINTS)]
    for outer in ("esp", "cmaes"):
        rs = [r for o, lab, _, r in rows if o == outer and lab.startswith("10")]
        cells = [f"{statistics.median(r['curve'][i][1] for r in rs):.3g} ({rs[0]['curve'][i][0]} ev.)"
                 for i in range(len(CHECKPOINTS))]
        lines.append(f"| {outer} | " + " | ".join(cells) + " |")
    lines += ["", f"## NRMSE₈₄ vs. cells (ESP, default fitness, seed {args.seeds[0]})", "",
              "| cells | NRMSE₈₄ | train MSE | wall s |", "|---|---|---|---|"]
    lines += [f"| {h} | {r['nrmse84']:.3g} | {r['train']:.2g} | {r['wall']:.0f} |" for h, r in sizes]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "evolino_mackey_glass.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
