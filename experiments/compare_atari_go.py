"""PGPE vs ES on Atari-Go (the ICANN 2010 comparison): same MDLSTM, same budget, several seeds.

Trains the same policy (``mdlstm:hidden=4``, 144 weights) against L2 on 5×5 with four
direct-policy-search methods, all through ``dps.runner.train`` with identical population
size, games per member and number of generations (so the budget in training games is the
same), the centre evaluated on 40 fresh games every 10 generations:

* ``pgpe``        PGPE, dps defaults for atari-go (modern variant: centered ranks + ClipUp,
                  σ₀ = 0.5, lr 0.1, random initial μ)
* ``pgpe-paper``  PGPE, the 2010 rule (``--variant paper --sigma-init 2.0 --lr-mu 0.2 --init-scale 0``)
* ``snes``        SNES through evotorch (dps defaults: σ₀ = 0.1, centre lr 1)
* ``es``          dps OpenES (Salimans et al. 2017: antithetic, centered ranks, Adam; σ = 0.1, lr 0.01)

Each run's directory (config.json, metrics.csv, curve.png, summary.json) lands under
``OUT/METHOD_sSEED`` (``--out``, default ``runs/atari_go_pgpe_vs_es``, git-ignored; the committed
``RESULTS.md`` and ``curves.png`` were made with ``--out experiments/results/atari_go_pgpe_vs_es``,
whose run directories git ignores); ``summary.json``'s ``eval.success_rate`` is the final centre's win
rate vs L2 on 1000 fresh games. The multi-size Atari-Go report
(``dps.evaluation.atari_go.final_report``: 1000 games × 12 cells × 2 nets, minutes per run)
is skipped (``train(..., report=False)``); everything else is the unmodified runner, so each
run equals ``python -m dps.run METHOD ... --eval-every 10`` minus report.md.

    python experiments/compare_atari_go.py                       # 3 seeds × 300 generations, 2 jobs
    python experiments/compare_atari_go.py --seeds 3 --generations 300 --jobs 2 \
        --out experiments/results/atari_go_pgpe_vs_es           # the committed comparison
    python experiments/compare_atari_go.py --seeds 5 --generations 1000 --jobs 4
    python experiments/compare_atari_go.py --plot-only           # re-aggregate existing runs in --out

Outputs ``OUT/curves.png`` (median and inter-quartile band over seeds of the centre's win
rate vs L2 against training games) and ``OUT/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = "runs/atari_go_pgpe_vs_es"

# method name -> (dps algorithm, CLI flags for the algorithm's own options, algo_options dict)
METHODS = {
    "pgpe": ("pgpe", [], {}),
    "pgpe-paper": ("pgpe", ["--variant", "paper", "--sigma-init", "2.0", "--lr-mu", "0.2", "--init-scale", "0"],
                   {"variant": "paper", "sigma_init": 2.0, "lr_mu": 0.2, "init_scale": 0.0}),
    "snes": ("snes", [], {}),
    "es": ("es", [], {}),
}
LABELS = {"pgpe": "PGPE (dps modern: ranks + ClipUp)", "pgpe-paper": "PGPE (paper 2010 rule, σ₀=2)",
          "snes": "SNES (evotorch)", "es": "OpenES (antithetic, Adam)"}
COLORS = {"pgpe": "tab:blue", "pgpe-paper": "tab:cyan", "snes": "tab:red", "es": "tab:orange"}
THRESHOLD = 0.8
THRESHOLD_HI = 0.9     # the 40-game centre evaluation is noisy (s.e. ≈ 6 %): also report 90 %


def common_flags(args) -> list[str]:
    return ["--env", "atari-go", "--policy", "mdlstm:hidden=4", "--popsize", str(args.popsize),
            "--episodes", str(args.games), "--generations", str(args.generations), "--eval-every",
            str(args.eval_every), "--threads", "1", "--quiet"]


def cli_command(method: str, seed: int, args) -> str:
    algo, flags, _ = METHODS[method]
    out = f"{args.out}/{method}_s{seed}"
    return " ".join(shlex.quote(x) for x in
                    ["python", "-m", "dps.run", algo, *common_flags(args), *flags, "--seed", str(seed),
                     "--out", out])


# ---------------------------------------------------------------------------------- worker
def run_one(method: str, seed: int, args) -> None:
    """Train one (method, seed) in this process, without the final multi-size report."""
    import torch
    torch.set_num_threads(1)
    from dps.runner import RunConfig, train
    algo, _, opts = METHODS[method]
    out = Path(args.out) / f"{method}_s{seed}"
    if out.exists():                         # a rerun starts from scratch
        for f in out.iterdir():
            f.unlink()
    cfg = RunConfig(algo=algo, env="atari-go", policy="mdlstm:hidden=4", generations=args.generations,
                    popsize=args.popsize, episodes=args.games, seed=seed, device="cpu", out=str(out),
                    eval_every=args.eval_every, algo_options=dict(opts))
    t0 = time.perf_counter()
    train(cfg, quiet=True, report=False)     # no report.md: minutes per run, not needed here
    wall = time.perf_counter() - t0
    (out / "wall.json").write_text(json.dumps({"process_wall_seconds": wall,
                                               "command": cli_command(method, seed, args)}, indent=1) + "\n")


# ---------------------------------------------------------------------------------- driver
def launch(args, jobs: list[tuple[str, int]]) -> float:
    t0 = time.time()
    pending = list(jobs)
    running: list[tuple[subprocess.Popen, str, int, float]] = []
    base = [sys.executable, str(Path(__file__).resolve()), "--out", args.out, "--generations",
            str(args.generations), "--popsize", str(args.popsize), "--games", str(args.games),
            "--eval-every", str(args.eval_every)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    while pending or running:
        while pending and len(running) < args.jobs:
            m, s = pending.pop(0)
            p = subprocess.Popen(base + ["--one", m, str(s)], cwd=ROOT, env=env)
            running.append((p, m, s, time.time()))
            print(f"[{time.time() - t0:7.0f}s] start {m} seed {s}", flush=True)
        time.sleep(1.0)
        for item in list(running):
            p, m, s, ts = item
            if p.poll() is not None:
                running.remove(item)
                print(f"[{time.time() - t0:7.0f}s] done  {m} seed {s} rc={p.returncode} "
                      f"({time.time() - ts:.0f}s)", flush=True)
                if p.returncode != 0:
                    raise SystemExit(f"run {m} seed {s} failed (rc {p.returncode})")
    return time.time() - t0


def read_metrics(path: Path) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["center_success"] not in ("", None):
                xs.append(int(row["episodes"]))
                ys.append(float(row["center_success"]))
    return xs, ys


def aggregate(args, methods, seeds, total_wall: float | None) -> None:
    import matplotlib
    import numpy as np
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = ROOT / args.out
    if total_wall is None and (out / "wall.json").exists():      # --plot-only: the last launch's
        total_wall = json.loads((out / "wall.json").read_text())["total_wall_seconds"]
    data = {}
    for m in methods:
        runs = []
        for s in seeds:
            d = out / f"{m}_s{s}"
            if not (d / "summary.json").exists():
                continue
            xs, ys = read_metrics(d / "metrics.csv")
            summ = json.loads((d / "summary.json").read_text())
            wall = json.loads((d / "wall.json").read_text()) if (d / "wall.json").exists() else {}
            first = next((x for x, y in zip(xs, ys) if y >= THRESHOLD), None)
            first_hi = next((x for x, y in zip(xs, ys) if y >= THRESHOLD_HI), None)
            runs.append(dict(seed=s, xs=xs, ys=ys, final=summ["eval"]["success_rate"],
                             train_wall=summ["wall_seconds"], games=summ["episodes"],
                             proc_wall=wall.get("process_wall_seconds"), first80=first, first90=first_hi,
                             auc=sum(ys) / len(ys), last5=sum(ys[-5:]) / len(ys[-5:]),
                             gens=summ["generations"]))
        if runs:
            data[m] = runs

    fig, ax = plt.subplots(figsize=(8, 5))
    for m, runs in data.items():
        n = min(len(r["xs"]) for r in runs)
        x = np.array(runs[0]["xs"][:n])
        Y = np.array([r["ys"][:n] for r in runs])
        med = np.median(Y, axis=0)
        q1, q3 = np.percentile(Y, 25, axis=0), np.percentile(Y, 75, axis=0)
        ax.plot(x, med, color=COLORS[m], label=f"{LABELS[m]} (n={len(runs)})")
        ax.fill_between(x, q1, q3, color=COLORS[m], alpha=0.2, linewidth=0)
    ax.axhline(THRESHOLD, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("training games (population × 40 games × generations)")
    ax.set_ylabel("centre's greedy win rate vs L2 (40 games)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Atari-Go 5×5, MDLSTM h=4 (144 weights) vs L2: median and IQR over seeds")
    ax.legend(loc="lower right", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=120)
    plt.close(fig)

    def pct(v):
        return f"{100 * v:.1f} %"

    lines = ["# PGPE vs ES on Atari-Go 5×5 (the paper's comparison)", "",
             "Made by `experiments/compare_atari_go.py` "
             f"(`python experiments/compare_atari_go.py --seeds {len(seeds)} --generations {args.generations} "
             f"--jobs {args.jobs}" + (f" --out {shlex.quote(args.out)}" if args.out != DEFAULT_OUT else "") + "`).", "",
             f"Same policy (`mdlstm:hidden=4`, 144 weights), opponent L2, popsize {args.popsize}, "
             f"{args.games} games per member, {args.generations} generations for every method: "
             f"{args.popsize * args.games * args.generations:,} training games per run. The centre is "
             f"evaluated greedily on {args.games} fresh games every {args.eval_every} generations "
             "(`center_success`, the curves); the final win rate is `eval.success_rate` in "
             "summary.json, 1000 fresh greedy games vs L2. Seeds: "
             f"{', '.join(map(str, seeds))}.", "",
             "![learning curves](curves.png)", "",
             f"| method | runs | final win rate vs L2 (1000 games): median | min | max | "
             f"games to first centre ≥ {int(THRESHOLD * 100)} %: median (reached) | "
             f"≥ {int(THRESHOLD_HI * 100)} % | mean centre win rate over training (median) | "
             "training wall s / run (median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m, runs in data.items():
        finals = [r["final"] for r in runs]
        cells = []
        for key in ("first80", "first90"):
            reached = [r[key] for r in runs if r[key] is not None]
            # median over all runs, not-reached counted as +inf
            med = float(np.median(sorted(r[key] if r[key] is not None else float("inf") for r in runs)))
            cells.append(f"{med:,.0f} ({len(reached)}/{len(runs)})" if np.isfinite(med)
                         else f"— ({len(reached)}/{len(runs)})")
        lines.append(f"| {LABELS[m]} | {len(runs)} | {pct(float(np.median(finals)))} | {pct(min(finals))} | "
                     f"{pct(max(finals))} | {cells[0]} | {cells[1]} | "
                     f"{pct(float(np.median([r['auc'] for r in runs])))} | "
                     f"{float(np.median([r['train_wall'] for r in runs])):.0f} |")
    lines += ["", "Games to first ≥ 80 % / 90 %: training games when the 40-game centre evaluation "
              "(every 10 generations = 8,000 games) first reached the threshold (median over seeds, "
              "not reached = ∞); with 40 games one evaluation has s.e. ≈ 5–7 %, so these are noisy. "
              "Mean centre win rate over training = area under the learning curve / budget.", "",
              "Per run (final = 1000 games vs L2):", "",
              "| method | seed | final | first ≥ 80 % | first ≥ 90 % | mean centre | last 5 centre evals | "
              "best centre (40 g) | train wall s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for m, runs in data.items():
        for r in runs:
            f80 = f"{r['first80']:,}" if r["first80"] is not None else "not reached"
            f90 = f"{r['first90']:,}" if r["first90"] is not None else "not reached"
            lines.append(f"| {m} | {r['seed']} | {pct(r['final'])} | {f80} | {f90} | {pct(r['auc'])} | "
                         f"{pct(r['last5'])} | {pct(max(r['ys']))} | {r['train_wall']:.0f} |")
    lines += ["", "## Commands", "",
              "Each run is equivalent to the CLI command below (the script calls `dps.runner.train` with "
              "the same RunConfig in a worker process, with `report=False` so the multi-size report.md "
              "is skipped; summary.json has no `report` key):", "", "```"]
    for m in data:
        lines.append(cli_command(m, seeds[0], args).replace(f"--seed {seeds[0]}", "--seed S")
                     .replace(f"_s{seeds[0]}", "_sS"))
    lines += ["```", "", "## Machine", "",
              f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, Python "
              f"{platform.python_version()}, torch {__import__('torch').__version__}, 1 torch thread per run, "
              f"{args.jobs} runs at a time, CPU only. The machine was shared with other jobs, so "
              "wall times are indicative only."]
    if total_wall is not None:
        lines.append(f"Total wall time of the comparison: {total_wall:.0f} s.")
    (out / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 (default 3)")
    ap.add_argument("--generations", type=int, default=300)
    ap.add_argument("--popsize", type=int, default=20)
    ap.add_argument("--games", type=int, default=40, help="games per member per generation")
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (1 torch thread each)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--skip-existing", action="store_true", help="keep runs that already have summary.json")
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    if args.one:
        run_one(args.one[0], int(args.one[1]), args)
        return
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    seeds = list(range(args.seeds))
    total = None
    if not args.plot_only:
        (ROOT / args.out).mkdir(parents=True, exist_ok=True)
        # seed-major order: an interrupted comparison still has every method on the first seeds
        jobs = [(m, s) for s in seeds for m in methods
                if not (args.skip_existing and (ROOT / args.out / f"{m}_s{s}" / "summary.json").exists())]
        total = launch(args, jobs)
        (ROOT / args.out / "wall.json").write_text(json.dumps(
            {"total_wall_seconds": total, "jobs": args.jobs, "runs": len(jobs)}, indent=1) + "\n")
    aggregate(args, methods, seeds, total)


if __name__ == "__main__":
    main()
