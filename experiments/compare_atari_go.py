"""PGPE vs ES vs RPG on Atari-Go: the same MDLSTM, the same number of training games, several seeds.

Trains one policy family (default ``mdlstm:hidden=8``, 448 weights shared over the board)
against one opponent (default the mix ``L2+L5+L6``) on 5×5 with each method, all through
``dps.runner.train``. Every run stops after the generation (or update) that reaches the same
budget of training games (``--budget``, the runner's ``max_episodes``), and the centre is
evaluated greedily on ``--center-games`` fresh games each time another ``--eval-games``
training games have been played (``eval_every_episodes``), so the curves share one x-axis:

* ``pgpe``        PGPE, dps defaults for atari-go (modern variant: centered ranks + ClipUp,
                  σ₀ = 0.5, lr 0.1), popsize 20 × 40 games per member
* ``pgpe-paper``  PGPE, the 2010 rule (``--variant paper --sigma-init 2.0 --lr-mu 0.2 --init-scale 0``)
* ``snes``        SNES through evotorch (dps defaults: σ₀ = 0.1, centre lr 1)
* ``es``          dps OpenES (Salimans et al. 2017: antithetic, centered ranks, Adam; σ = 0.1, lr 0.01)
* ``rpg``         recurrent policy gradients (REINFORCE by BPTT through the same MDLSTM, moving
                  baseline, entropy 0.05), 32 games per update

Every run returns its last centre (``--select-on none``): the comparison is of what each
method reaches, not of a centre chosen on 9×9. After training, each final centre plays two
harder cells greedily (``--hard-games`` each): 5×5 against L6 and, without retraining, 9×9
against L5 (``hard.json`` in the run directory).

Each run's directory (config.json, metrics.csv, summary.json, hard.json, wall.json) lands
under ``OUT/METHOD_sSEED`` (``--out``, default ``runs/atari_go_methods``, git-ignored); the
committed ``RESULTS.md`` and ``curves.png`` in ``experiments/results/atari_go_methods`` were
made with ``--out experiments/results/atari_go_methods`` (run directories there are
git-ignored). The multi-size report.md is skipped (``train(..., report=False)``).

    python experiments/compare_atari_go.py                        # pgpe, es, rpg; 3 seeds; 200k games each
    python experiments/compare_atari_go.py --methods pgpe,snes --opponent L2 --policy mdlstm:hidden=4
    python experiments/compare_atari_go.py --plot-only            # re-aggregate existing runs in --out

Outputs ``OUT/curves.png`` (median and inter-quartile band over seeds of the centre's win
rate against training games) and ``OUT/RESULTS.md``.
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
DEFAULT_OUT = "runs/atari_go_methods"

# method name -> (dps algorithm, CLI flags for the algorithm's own options, algo_options dict)
METHODS = {
    "pgpe": ("pgpe", [], {}),
    "pgpe-paper": ("pgpe", ["--variant", "paper", "--sigma-init", "2.0", "--lr-mu", "0.2", "--init-scale", "0"],
                   {"variant": "paper", "sigma_init": 2.0, "lr_mu": 0.2, "init_scale": 0.0}),
    "snes": ("snes", [], {}),
    "es": ("es", [], {}),
    "rpg": ("rpg", [], {}),
}
LABELS = {"pgpe": "PGPE (dps modern: ranks + ClipUp)", "pgpe-paper": "PGPE (paper 2010 rule, σ₀=2)",
          "snes": "SNES (evotorch)", "es": "OpenES (antithetic, Adam)", "rpg": "RPG (REINFORCE by BPTT)"}
COLORS = {"pgpe": "tab:blue", "pgpe-paper": "tab:cyan", "snes": "tab:red", "es": "tab:orange", "rpg": "tab:green"}
RPG_GAMES = 32          # RPG's M: games per update
THRESHOLD = 0.8
THRESHOLD_HI = 0.9
#: the harder cells every final centre plays: (board size, opponent)
HARD = ((5, "L6"), (9, "L5"))


def run_flags(method: str, args) -> list[str]:
    """The ``dps.run`` flags of one method's run (everything but seed and out)."""
    algo, flags, _ = METHODS[method]
    per_gen = ["--episodes", str(RPG_GAMES)] if algo == "rpg" else \
        ["--popsize", str(args.popsize), "--episodes", str(args.games)]
    return ["--env", f"atari-go:opponent={args.opponent}", "--policy", args.policy, *per_gen,
            "--generations", "1000000", "--max-episodes", str(args.budget),
            "--eval-every-episodes", str(args.eval_games), "--center-episodes", str(args.center_games),
            "--select-on", "none", "--threads", "1", "--quiet", *flags]


def cli_command(method: str, seed: int, args) -> str:
    algo = METHODS[method][0]
    return " ".join(shlex.quote(x) for x in ["python", "-m", "dps.run", algo, *run_flags(method, args),
                                              "--seed", str(seed), "--out", f"{args.out}/{method}_s{seed}"])


# ---------------------------------------------------------------------------------- worker
def run_one(method: str, seed: int, args) -> None:
    """Train one (method, seed) in this process without the report, then play the hard cells."""
    import torch
    torch.set_num_threads(1)
    from dps.checkpoint import write_atomic
    from dps.evaluation.atari_go import policy_for_size, win_rates
    from dps.policies import make_policy
    from dps.run import run_config
    from dps.runner import load_run, train
    out = Path(args.out) / f"{method}_s{seed}"
    if out.exists():                         # a rerun starts from scratch
        for f in out.iterdir():
            f.unlink()
    cfg = run_config([METHODS[method][0], *run_flags(method, args), "--seed", str(seed), "--out", str(out)])
    t0 = time.perf_counter()
    train(cfg, quiet=True, report=False)     # no report.md: minutes per run, not needed here
    wall = time.perf_counter() - t0
    spec, params, _ = load_run(out)
    hard = {}
    for N, level in HARD:
        pol = policy_for_size(make_policy(spec, (2, 5, 5), 25), N)
        hard[f"N{N}/{level}"] = win_rates(pol, params, N, level, args.hard_games, seed=1000 + seed)
    write_atomic(out / "hard.json", json.dumps(hard, indent=1) + "\n")
    write_atomic(out / "wall.json", json.dumps({"process_wall_seconds": wall,
                                                "command": cli_command(method, seed, args)}, indent=1) + "\n")


# ---------------------------------------------------------------------------------- driver
def launch(args, jobs: list[tuple[str, int]]) -> float:
    t0 = time.time()
    pending = list(jobs)
    running: list[tuple[subprocess.Popen, str, int, float]] = []
    base = [sys.executable, str(Path(__file__).resolve()), *_passed(args)]
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


def curve_on(xs: list[int], ys: list[float], grid) -> list[float]:
    """The curve's last value at or before each grid point (evaluations fall at each method's
    own generation boundaries, so they are read off on one shared grid of games)."""
    out, k = [], -1
    for g in grid:
        while k + 1 < len(xs) and xs[k + 1] <= g:
            k += 1
        out.append(ys[k] if k >= 0 else float("nan"))
    return out


def aggregate(args, methods, seeds, total_wall: float | None) -> None:
    import matplotlib
    import numpy as np
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dps.checkpoint import write_atomic, write_figure
    out = ROOT / args.out
    if total_wall is None and (out / "wall.json").exists():      # --plot-only: the last launch's
        total_wall = json.loads((out / "wall.json").read_text())["total_wall_seconds"]
    data = {}
    for m in methods:
        runs = []
        for s in seeds:
            d = out / f"{m}_s{s}"
            if not (d / "hard.json").exists():
                continue
            xs, ys = read_metrics(d / "metrics.csv")
            summ = json.loads((d / "summary.json").read_text())
            hard = json.loads((d / "hard.json").read_text())
            first = next((x for x, y in zip(xs, ys) if y >= THRESHOLD), None)
            first_hi = next((x for x, y in zip(xs, ys) if y >= THRESHOLD_HI), None)
            runs.append(dict(seed=s, xs=xs, ys=ys, final=summ["eval"]["success_rate"],
                             hard={k: v["win"] for k, v in hard.items()},
                             train_wall=summ["wall_seconds"], games=summ["episodes"],
                             first80=first, first90=first_hi, auc=sum(ys) / len(ys)))
        if runs:
            data[m] = runs

    grid = np.arange(args.eval_games, args.budget + 1, args.eval_games)
    fig, ax = plt.subplots(figsize=(8, 5))
    for m, runs in data.items():
        Y = np.array([curve_on(r["xs"], r["ys"], grid) for r in runs])
        med = np.nanmedian(Y, axis=0)
        q1, q3 = np.nanpercentile(Y, 25, axis=0), np.nanpercentile(Y, 75, axis=0)
        ax.plot(grid, med, color=COLORS[m], label=f"{LABELS[m]} (n={len(runs)})")
        ax.fill_between(grid, q1, q3, color=COLORS[m], alpha=0.2, linewidth=0)
    ax.axhline(THRESHOLD, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("training games")
    ax.set_ylabel(f"centre's greedy win rate vs {args.opponent} ({args.center_games} games)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Atari-Go 5×5, {args.policy} vs {args.opponent}: median and IQR over seeds")
    ax.legend(loc="lower right", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    write_figure(fig, out / "curves.png", 120)

    def pct(v):
        return f"{100 * v:.1f} %"

    hard_keys = [f"N{N}/{level}" for N, level in HARD]
    hard_names = [f"{N}×{N} vs {level}" for N, level in HARD]
    command = "python experiments/compare_atari_go.py " + " ".join(shlex.quote(x) for x in _passed(args))
    lines = ["# PGPE vs ES vs RPG on Atari-Go 5×5, equal training games", "",
             f"Made by `{command} --methods {','.join(methods)} --seeds {len(seeds)} --jobs {args.jobs}`.", "",
             f"Same policy (`{args.policy}`), opponent `{args.opponent}` on 5×5, {args.budget:,} training "
             f"games per run (each run stops after the generation or update that reaches it). The centre "
             f"is evaluated greedily on {args.center_games} fresh games every {args.eval_games:,} training "
             "games (the curves); *final* is summary.json's `eval.success_rate` (1000 fresh greedy games "
             f"against the training opponent); the hard cells are {args.hard_games} greedy games each, "
             f"colours alternating. Seeds: {', '.join(map(str, seeds))}.", "",
             "![learning curves](curves.png)", "",
             "| method | runs | final: median (min) | " + " | ".join(f"{h}: median (min)" for h in hard_names)
             + f" | games to centre ≥ {int(THRESHOLD * 100)} % (reached) | ≥ {int(THRESHOLD_HI * 100)} % | "
             "mean centre win rate | training wall s (median) |",
             "|---|---|---|" + "---|" * len(HARD) + "---|---|---|---|"]
    for m, runs in data.items():
        cells = []
        for key in ("first80", "first90"):
            reached = [r[key] for r in runs if r[key] is not None]
            med = float(np.median([r[key] if r[key] is not None else float("inf") for r in runs]))
            cells.append(f"{med:,.0f} ({len(reached)}/{len(runs)})" if np.isfinite(med)
                         else f"— ({len(reached)}/{len(runs)})")
        finals = [r["final"] for r in runs]
        hard = [[r["hard"][k] for r in runs] for k in hard_keys]
        lines.append(f"| {LABELS[m]} | {len(runs)} | {pct(float(np.median(finals)))} ({pct(min(finals))}) | "
                     + " | ".join(f"{pct(float(np.median(h)))} ({pct(min(h))})" for h in hard)
                     + f" | {cells[0]} | {cells[1]} | {pct(float(np.median([r['auc'] for r in runs])))} | "
                     f"{float(np.median([r['train_wall'] for r in runs])):.0f} |")
    lines += ["", "Per run:", "",
              "| method | seed | final | " + " | ".join(hard_names) + " | games | train wall s |",
              "|---|---|---|" + "---|" * len(HARD) + "---|---|"]
    for m, runs in data.items():
        for r in runs:
            lines.append(f"| {m} | {r['seed']} | {pct(r['final'])} | "
                         + " | ".join(pct(r["hard"][k]) for k in hard_keys)
                         + f" | {r['games']:,} | {r['train_wall']:.0f} |")
    lines += ["", "## Commands", "",
              "Each run is the CLI command below minus report.md (the script calls `dps.runner.train` "
              "with the parsed command in a worker process, with `report=False`):", "", "```"]
    for m in data:
        lines.append(cli_command(m, seeds[0], args).replace(f"--seed {seeds[0]}", "--seed S")
                     .replace(f"_s{seeds[0]}", "_sS"))
    lines += ["```", "", "## Machine", "",
              f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, Python "
              f"{platform.python_version()}, torch {__import__('torch').__version__}, 1 torch thread per run, "
              f"{args.jobs} runs at a time, CPU only. Wall times are from a machine shared with the "
              "runs beside them."]
    if total_wall is not None:
        lines.append(f"Total wall time of the comparison: {total_wall:.0f} s.")
    write_atomic(out / "RESULTS.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def _passed(args) -> list[str]:
    """The options that define the runs (passed on to each worker, written into RESULTS.md)."""
    return ["--out", args.out, "--policy", args.policy, "--opponent", args.opponent, "--budget", str(args.budget),
            "--popsize", str(args.popsize), "--games", str(args.games), "--eval-games", str(args.eval_games),
            "--center-games", str(args.center_games), "--hard-games", str(args.hard_games)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 (default 3)")
    ap.add_argument("--policy", default="mdlstm:hidden=8")
    ap.add_argument("--opponent", default="L2+L5+L6", help="training opponent: a level or a mix (default L2+L5+L6)")
    ap.add_argument("--budget", type=int, default=200_000, help="training games per run (default 200,000)")
    ap.add_argument("--popsize", type=int, default=20, help="population of the ES methods")
    ap.add_argument("--games", type=int, default=40, help="games per member per generation (ES methods)")
    ap.add_argument("--eval-games", type=int, default=8000, help="training games between centre evaluations")
    ap.add_argument("--center-games", type=int, default=100, help="games of each centre evaluation")
    ap.add_argument("--hard-games", type=int, default=1000, help="games of each hard cell after training")
    ap.add_argument("--methods", default="pgpe,es,rpg")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (1 torch thread each)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--skip-existing", action="store_true", help="keep runs that already have hard.json")
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    if args.one:
        run_one(args.one[0], int(args.one[1]), args)
        return
    from dps.checkpoint import write_atomic
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
                if not (args.skip_existing and (ROOT / args.out / f"{m}_s{s}" / "hard.json").exists())]
        total = launch(args, jobs)
        write_atomic(ROOT / args.out / "wall.json", json.dumps(
            {"total_wall_seconds": total, "jobs": args.jobs, "runs": len(jobs)}, indent=1) + "\n")
    aggregate(args, methods, seeds, total)


if __name__ == "__main__":
    main()
