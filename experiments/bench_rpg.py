"""RPG budgets to solve memory tasks, per baseline (the table in docs/RPG.md).

    python experiments/bench_rpg.py --env class-query:length=50 \
        --policy lstm:hidden=16,forget_bias=5 --baselines none,moving,time,value,bootstrap --seeds 0

For each (baseline, seed): run ``RPG`` updates until the greedy success (or mean return,
for envs without a success notion) over ``--eval-episodes`` episodes reaches ``--target``,
evaluating every ``--eval-every`` updates, at most ``--max-updates``. Prints one markdown
table: solved runs, and the median updates / env steps / wall seconds of the solved ones.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from dps.algorithms.rpg import RPG, Config
from dps.envs.registry import make_env
from dps.policies import make_head, make_policy
from dps.rollout import rollout


def run_one(env_spec, policy_spec, seed, target, max_updates, eval_every, eval_episodes, metric, **cfg):
    env = make_env(env_spec)
    policy = make_policy(policy_spec, env.observation_shape, make_head(env.action_space).out_size)
    learner = RPG(policy, env, Config(**cfg), seed=seed)
    steps, t0, score = 0, time.perf_counter(), float("-inf")
    while learner.updates < max_updates:
        steps += learner.step()["env_steps"]
        if learner.updates % eval_every == 0:
            res = rollout(policy, env, learner.center[None], eval_episodes, seed=10_000 + learner.updates)
            use_success = metric == "success" or (metric == "auto" and res.success is not None)
            score = float(res.success.float().mean()) if use_success else float(res.returns.mean())
            if score >= target:
                return True, learner.updates, steps, time.perf_counter() - t0, score
    return False, learner.updates, steps, time.perf_counter() - t0, score


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", required=True)
    ap.add_argument("--policy", default="lstm:hidden=16,forget_bias=5")
    ap.add_argument("--baselines", default="none,moving,time,value,bootstrap")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds")
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--metric", default="auto", choices=["auto", "success", "return"],
                    help="greedy score compared with --target (auto: success when the env has it)")
    ap.add_argument("--max-updates", type=int, default=300)
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--eval-episodes", type=int, default=200)
    ap.add_argument("--set", default="", help="extra Config options, e.g. lr=0.003,episodes=64")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    extra = {}
    for item in filter(None, a.set.split(",")):
        k, _, v = item.partition("=")
        extra[k] = eval(v, {}, {})  # numbers / True / False / None from the command line
    print(f"env {a.env}  policy {a.policy}  target {a.target}  max {a.max_updates} updates  {extra}")
    print("| baseline | solved | median updates | median env steps | median wall s | final scores |")
    print("|---|---|---|---|---|---|")
    for b in a.baselines.split(","):
        runs = [run_one(a.env, a.policy, int(s), a.target, a.max_updates, a.eval_every, a.eval_episodes,
                        a.metric, baseline=b, **extra) for s in a.seeds.split(",")]
        ok = [r for r in runs if r[0]]
        med = (lambda i: f"{statistics.median(r[i] for r in ok):.0f}") if ok else (lambda i: "–")
        scores = " ".join(f"{r[4]:.2f}" for r in runs)
        print(f"| {b} | {len(ok)}/{len(runs)} | {med(1)} | {med(2)} | {med(3)} | {scores} |", flush=True)


if __name__ == "__main__":
    main()
