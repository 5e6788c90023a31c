"""The Echo State Network of Jaeger & Haas (Science 2004) on Mackey-Glass: NRMSE₈₄ per
reservoir seed on their protocol, against the harness's 100-unit ESN, and what the error
depends on (training noise, reservoir size, training length, series integrator).

    python experiments/esn_mackey_glass.py                        # ≈ 6 min on one core
    python experiments/esn_mackey_glass.py --seeds 0 1 2 --sweep-seeds 0 1

Writes a markdown summary (default ``experiments/results/evolino/esn_mackey_glass.md``) with
the command, seeds, torch version and machine load. The baseline ``esn-jh2004``
(:class:`dps.tasks.baselines.JaegerHaasESN`) runs with its defaults unless a sweep says
otherwise; the task is ``mackey-glass`` with :data:`dps.tasks.mackey_glass.JH2004` (3000
teacher-forced steps, first 1000 dropped, 100 disjoint blocks of 1000 driven + 84 free
steps, Jaeger's Euler series) or with the harness defaults where a row says so.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import math
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dps.checkpoint import write_atomic  # noqa: E402
from dps.tasks.baselines import run_baseline  # noqa: E402
from dps.tasks.mackey_glass import JH2004, JH2004_SPEC, MackeyGlass  # noqa: E402

PUBLISHED_LOG10 = -4.2   # Jaeger & Haas 2004, NRMSE₈₄ of their 1000-unit ESN


WALL: list[float] = []


def nrmse(task, name: str, seed: int, **options) -> float:
    res = run_baseline(name, task, seed, **options)
    if name == "esn-jh2004" and not options:
        WALL.append(res["wall_s"])
    return res["nrmse84"]


def row(label: str, values: list[float]) -> str:
    med, worst = statistics.median(values), max(values)
    log = f"{math.log10(med):.2f}" if med > 0 and math.isfinite(med) else "–"
    return f"| {label} | {med:.2e} | {log} | {worst:.2e} | {' '.join(f'{v:.1e}' for v in values)} |"


def fmt(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds))


HEAD = "| setting | median NRMSE₈₄ | log₁₀ median | worst | per seed |\n|---|---|---|---|---|"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", nargs="+", type=int, default=list(range(10)), help="reservoir seeds, main table")
    p.add_argument("--sweep-seeds", nargs="+", type=int, default=list(range(5)), help="reservoir seeds, sweeps")
    p.add_argument("--out", default="experiments/results/evolino/esn_mackey_glass.md")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    t0, load0 = time.perf_counter(), os.getloadavg()
    seeds, sweep = args.seeds, args.sweep_seeds
    jh_euler, jh_rk4 = MackeyGlass(**JH2004), MackeyGlass(**{**JH2004, "integrator": "rk4"})
    harness = MackeyGlass()
    out = []

    def section(title: str, text: str = "") -> None:
        out.extend(["", f"## {title}", ""] + ([text, ""] if text else []) + [HEAD])
        print(f"\n## {title}", flush=True)

    def add(label: str, values: list[float]) -> None:
        out.append(row(label, values))
        print(out[-1], flush=True)

    section("Jaeger & Haas 2004 ESN on their protocol",
            f"`esn-jh2004` with its defaults (1000 units, 1 % connectivity, ρ = 0.8, bias input 0.2, "
            f"w_in, w_fb ~ U(−1, 1), tanh squashing, state noise U(±1e-8) while teacher forced) on the task "
            f"`{JH2004_SPEC}` (RK4 row: `integrator=rk4`). Seeds {fmt(seeds)}. "
            f"Published: NRMSE₈₄ ≈ 10^{PUBLISHED_LOG10} = {10 ** PUBLISHED_LOG10:.1e}.")
    main_rows = {"JH2004 protocol, Euler series (Jaeger's)": [nrmse(jh_euler, "esn-jh2004", s) for s in seeds],
                 "JH2004 protocol, RK4 series": [nrmse(jh_rk4, "esn-jh2004", s) for s in seeds]}
    for label, values in main_rows.items():
        add(label, values)
    worst = max(max(v) for v in main_rows.values())
    out.extend(["", f"Target NRMSE₈₄ ≤ 1e-3 for every seed: {'met' if worst <= 1e-3 else 'not met'} "
                    f"(worst {worst:.1e}); median / published: "
                    + ", ".join(f"{statistics.median(v) / 10 ** PUBLISHED_LOG10:.1f}×" for v in main_rows.values())
                    + " (Euler, RK4)."])

    out.extend(["", f"Build + fit + test of one default `esn-jh2004`: median {statistics.median(WALL):.1f} s."])
    section("The harness's 100-unit ESN, and the harness protocol",
            "`esn` is the harness's baseline (100 units, setting chosen from `ESN_GRID` on the training "
            "window); the harness protocol is the task's defaults (1085 training samples, washout 100, "
            f"drive 200, stride 20, RK4). Seeds {fmt(sweep)}.")
    add("esn (100 units), harness protocol", [nrmse(harness, "esn", s) for s in sweep])
    add("esn (100 units), JH2004 protocol", [nrmse(jh_euler, "esn", s) for s in sweep])
    add("esn-jh2004, harness protocol (984 fit rows < 1001 columns)", [nrmse(harness, "esn-jh2004", s) for s in sweep])
    add("esn-jh2004 size=400, harness protocol", [nrmse(harness, "esn-jh2004", s, size=400) for s in sweep])
    mixed = MackeyGlass(**{**JH2004, "integrator": "rk4", "drive": 200, "stride": 20})
    add("esn-jh2004, JH2004 training, harness test windows, RK4", [nrmse(mixed, "esn-jh2004", s) for s in sweep])

    section("Training noise (JH2004 protocol, Euler series)",
            "Uniform noise U(−ν, ν) added to every unit's input (state) or to the fed-back teacher "
            f"(feedback) during the teacher-forced training run only. Seeds {fmt(sweep)}.")
    for nu in (0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5):
        add(f"state ν = {nu:g}", [nrmse(jh_euler, "esn-jh2004", s, noise=nu) for s in sweep])
    add("feedback ν = 1e-05", [nrmse(jh_euler, "esn-jh2004", s, noise=1e-5, noise_on="feedback") for s in sweep])

    section("Reservoir size (JH2004 protocol, Euler series)",
            f"Connectivity 10 / N (10 recurrent inputs per unit, as 1 % of 1000). Seeds {fmt(sweep)}.")
    for n in (100, 200, 400, 1000):
        add(f"N = {n}", [nrmse(jh_euler, "esn-jh2004", s, size=n, connectivity=min(1.0, 10 / n)) for s in sweep])

    section("Training length (Euler series, washout 100, JH2004 test)",
            f"`train_len` samples, the readout fitted on steps [100, train_len − 1). Seeds {fmt(sweep)}.")
    for n in (1085, 2001, 3001, 6001):
        task = MackeyGlass(**{**JH2004, "train_len": n, "washout": 100})
        add(f"train_len = {n} ({n - 101} fit rows)", [nrmse(task, "esn-jh2004", s) for s in sweep])

    load1 = os.getloadavg()
    command = "python experiments/esn_mackey_glass.py" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    head = ["# Echo State Network of Jaeger & Haas (2004) on Mackey-Glass", "",
            f"Command: `{command}`", "",
            f"torch {torch.__version__}, 1 thread, float64; total {time.perf_counter() - t0:.0f} s; machine load "
            f"average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end (2 cores, shared with another job).",
            "", "NRMSE₈₄ = √(mean over the 100 trials of the squared error 84 steps after the last true value / σ²), "
            "σ² the variance of the series; per-seed values in seed order."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, "\n".join(head + out) + "\n")
    print(f"\nwrote {args.out} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
