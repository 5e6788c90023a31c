"""Why do double-pole controllers that generalise fall before 100,000 steps?

    python experiments/pole_failures.py experiments/results/pole/c_rnn4_20_each

Replays, on the torch env (standard start, 100,000-step limit), the candidates of a task-c
run of ``experiments/reproduce_pole.py`` that passed the 625-start test but failed the
100,000-step check (``failed_candidates.json``), next to that run's solvers
(``candidates.json``), in one batched rollout. For each it reports the steps balanced (the
replay must give the stored number), which limit ended the trial (cart |x| > 2.4 m, long
pole, short pole) and, per block of 1000 steps, the largest |x|, |θ₁|, |θ₂| and the mean x:
the first block against the last block before the fall tells a slow drift of the cart (the
mean x walks to a track end while the swings stay small) from a growing oscillation (the
swings themselves grow).

Writes ``failures.md`` and ``failures.json`` into the run's folder.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dps.checkpoint import write_atomic  # noqa: E402
from dps.envs.cartpole import X_LIMIT, CartPole  # noqa: E402
from dps.policies import make_policy  # noqa: E402
from dps.policies.heads import make_head  # noqa: E402

STEPS = CartPole.solve_steps
BLOCK = 1000


def load(out: Path):
    """(label, task row fields, params) for every failed candidate and every solver of task c."""
    items = []
    fpath = out / "failed_candidates.json"
    if not fpath.exists():
        raise SystemExit(f"{fpath} not found: it is written by reproduce_pole.py runs made since 2026-12-02 "
                         "whose task c had candidates failing the 100,000-step check")
    for c in json.loads(fpath.read_text()):
        if c["task"] == "c":
            items.append({"kind": "failed", "method": c["method"], "seed": c["seed"], "policy": c["policy"],
                          "evaluations": c["evaluations"], "generalization": c["generalization"],
                          "stored_steps": c["steps"], "params": c["params"]})
    runs = {}
    with open(out / "runs.csv", newline="") as f:
        for r in csv.DictReader(f):
            runs[(r["task"], r["method"], int(r["seed"]))] = r
    for c in json.loads((out / "candidates.json").read_text()):
        r = runs[(c["task"], c["method"], c["seed"])]
        if c["task"] == "c" and c["candidate"] is not None and r["long_ok"] == "True":
            items.append({"kind": "solver", "method": c["method"], "seed": c["seed"], "policy": r["policy"],
                          "evaluations": int(r["candidate_at"]), "generalization": int(r["generalization"]),
                          "stored_steps": STEPS, "params": c["candidate"]})
    return items


@torch.no_grad()
def replay(policy_spec: str, params: torch.Tensor) -> dict:
    """One batched rollout of ``params`` (K, D) from the standard start for up to 100,000 steps;
    per-block statistics of the physical state."""
    env = CartPole(poles=2, velocities=False, fitness="steps", max_steps=STEPS, start="standard")
    policy = make_policy(policy_spec, env.observation_shape, env.action_space.out_size)
    head = make_head(env.action_space)   # the greedy action, as dps.rollout takes it
    K = params.shape[0]
    obs = env.reset(K, 1, torch.Generator().manual_seed(0))
    state = policy.initial_state(K, 1, dtype=params.dtype)
    alive = torch.ones(K, dtype=torch.bool)
    steps = torch.zeros(K, dtype=torch.long)
    nb = STEPS // BLOCK
    peak = torch.zeros(nb, K, 3, dtype=torch.float64)      # max |x|, |θ₁|, |θ₂| per block
    xsum = torch.zeros(nb, K, dtype=torch.float64)
    last = torch.zeros(K, 6, dtype=torch.float64)          # the state when the trial ended
    for t in range(STEPS):
        out, state = policy.step(params, obs, state)
        obs, _, done, _ = env.step(head.greedy(out))
        s = env.state[:, 0]                                 # (K, 6): x, ẋ, θ₁, θ̇₁, θ₂, θ̇₂
        b = t // BLOCK
        pos = s[:, [0, 2, 4]].abs()
        peak[b] = torch.where(alive.unsqueeze(-1), torch.maximum(peak[b], pos), peak[b])
        xsum[b] += torch.where(alive, s[:, 0], torch.zeros_like(s[:, 0]))
        steps += alive
        ended = alive & done[:, 0]
        last[ended] = s[ended]
        alive = alive & ~done[:, 0]
        if not bool(alive.any()):
            break
    last[alive] = env.state[alive, 0]
    return {"steps": steps, "peak": peak, "xsum": xsum, "last": last}


def cause(state, steps: int) -> str:
    if steps >= STEPS:
        return "balanced"
    fail = CartPole(poles=2, velocities=False).fail_angle
    x, th1, th2 = float(state[0]), float(state[2]), float(state[4])
    parts = []
    if abs(x) > X_LIMIT:
        parts.append(f"cart at x = {x:+.2f} m")
    if abs(th1) > fail:
        parts.append(f"long pole at {th1:+.2f} rad")
    if abs(th2) > fail:
        parts.append(f"short pole at {th2:+.2f} rad")
    return ", ".join(parts) or "?"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="a reproduce_pole.py --out folder with failed_candidates.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    items = load(out)
    if not items:
        raise SystemExit("no task c candidates to replay")
    t0 = time.perf_counter()
    results = []
    for spec in sorted({i["policy"] for i in items}):
        group = [i for i in items if i["policy"] == spec]
        res = replay(spec, torch.tensor([i["params"] for i in group], dtype=torch.float32))
        for k, it in enumerate(group):
            n = int(res["steps"][k])
            nb = max(1, (n + BLOCK - 1) // BLOCK)
            blocks = []
            for b in range(nb):
                width = min(BLOCK, n - b * BLOCK)
                blocks.append({"max_abs_x": float(res["peak"][b, k, 0]), "max_abs_theta1": float(res["peak"][b, k, 1]),
                               "max_abs_theta2": float(res["peak"][b, k, 2]),
                               "mean_x": float(res["xsum"][b, k]) / max(1, width)})
            results.append({kw: it[kw] for kw in ("kind", "method", "seed", "evaluations", "generalization",
                                                  "stored_steps")}
                           | {"policy": spec, "steps": n, "cause": cause(res["last"][k], n),
                              "first_block": blocks[0], "last_block": blocks[-1]})
    wall = time.perf_counter() - t0
    write_atomic(out / "failures.json", json.dumps(results, indent=1) + "\n")
    agree = sum(r["steps"] == r["stored_steps"] for r in results)
    L = ["# Candidates that generalise but fall before 100,000 steps", "",
         f"Command: `python experiments/pole_failures.py {out}`; {len(results)} controllers replayed from the "
         f"standard start in {wall:.0f} s (torch env, one batched rollout per policy spec). Replayed steps equal "
         f"the stored ones for {agree} of {len(results)}.", "",
         "Blocks of 1000 steps: `|x|`, `|θ₁|`, `|θ₂|` = the largest in the block (m, rad), `x̄` = the mean cart "
         "position; first block against the last block before the fall (for solvers: the last of the 100).", "",
         "| kind | method | seed | evals | 625-score | steps | ended by | first: x̄, max x, θ₁, θ₂ "
         "| last: x̄, max x, θ₁, θ₂ |",
         "|---|---|---|---|---|---|---|---|---|"]

    def blk(b):
        return (f"{b['mean_x']:+.2f}, {b['max_abs_x']:.2f}, {b['max_abs_theta1']:.3f}, "
                f"{b['max_abs_theta2']:.3f}")

    for r in sorted(results, key=lambda r: (r["kind"] != "failed", r["seed"], r["evaluations"])):
        L.append(f"| {r['kind']} | {r['method']} | {r['seed']} | {r['evaluations']:,} | {r['generalization']} | "
                 f"{r['steps']:,} | {r['cause']} | {blk(r['first_block'])} | {blk(r['last_block'])} |")
    failed = [r for r in results if r["kind"] == "failed"]
    if failed:
        by = {}
        for r in failed:
            key = "cart" if r["cause"].startswith("cart") else "pole"
            by.setdefault(key, []).append(r["steps"])
        L += ["", "Summary of the failed: " + "; ".join(
            f"{len(v)} ended by the {k} (steps balanced: median {statistics.median(v):,.0f}, "
            f"range {min(v):,}–{max(v):,})" for k, v in sorted(by.items())) + "."]
    write_atomic(out / "failures.md", "\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    main()
