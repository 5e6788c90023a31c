"""Damping-fitness trials of the double pole without velocities: the C episode kernel against
the torch loop, side by side in one run.

One generation of task c of experiments/reproduce_pole.py: P members of the policy of that
table (``lstm:hidden=6,skip=true,forget_bias=0``, the default then; the default now
scales each input and has no input→readout path, which changes the cost per step by a few
multiply-adds in 250) near a solver of the committed fresh-seed table
(``experiments/results/pole/c_lstm6_20/candidates.json``, each weight moved by N(0, 0.002²):
most members balance for hundreds of steps), one trial each from the standard start,
``fitness=damping``. The two paths
alternate ``--repeats`` times; the medians and their ratio are printed with the load
average, and both paths' returns are compared (docs/BENCHMARKS.md).

    python experiments/bench_damping.py --members 20 --repeats 5
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

import dps
from dps.rollout import rollout

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = ROOT / "experiments/results/pole/c_lstm6_20/candidates.json"
POLICY = "lstm:hidden=6,skip=true,forget_bias=0"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    solver = next(c["candidate"] for c in json.loads(CANDIDATES.read_text()) if c["candidate"])
    env = dps.make_env("cartpole:poles=2,velocities=false")
    policy = dps.make_policy(POLICY, env.observation_shape, env.action_space.out_size)
    g = torch.Generator().manual_seed(0)
    params = torch.tensor(solver) + 0.002 * torch.randn(args.members, policy.num_params, generator=g)
    times = {"C kernel": [], "torch loop": []}
    out = {}
    for _ in range(args.repeats):
        for name, flag in (("C kernel", "1"), ("torch loop", "0")):
            os.environ["DPS_NATIVE"] = flag
            t0 = time.perf_counter()
            out[name] = rollout(policy, env, params, 1, seed=0)
            times[name].append(time.perf_counter() - t0)
    os.environ.pop("DPS_NATIVE")
    steps = int(out["C kernel"].lengths.sum())
    print(f"{args.members} members x 1 trial, {steps} env steps a generation; load average "
          f"{os.getloadavg()[0]:.2f}")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"  {name:<10}  median {m * 1e3:9.1f} ms  ({steps / m:,.0f} env steps/s)")
    ratio = statistics.median(b / a for a, b in zip(times["C kernel"], times["torch loop"]))
    same = bool(torch.equal(out["C kernel"].lengths, out["torch loop"].lengths))
    rel = (out["C kernel"].returns - out["torch loop"].returns).abs() / out["torch loop"].returns.abs()
    lengths = out["C kernel"].lengths
    print(f"  trial lengths {int(lengths.min())}-{int(lengths.max())}; torch loop / C kernel, median of paired "
          f"repeats: {ratio:.1f}x; same lengths: {same}; relative difference of the returns: median "
          f"{float(rel.median()):.1e}, largest {float(rel.max()):.1e} (libm's sin/cos against torch's move a "
          "chaotic trajectory apart)")


if __name__ == "__main__":
    main()
