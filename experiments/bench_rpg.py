"""RPG budgets to solve memory tasks, per baseline (the table in docs/RPG.md).

    python experiments/bench_rpg.py --env class-query:length=50 \
        --policy lstm:hidden=16,forget_bias=5 --baselines none,moving,time,value,bootstrap --seeds 0

For each (baseline, seed): run ``RPG`` updates until the greedy success (or mean return,
for envs without a success notion) over ``--eval-episodes`` episodes reaches ``--target``,
evaluating every ``--eval-every`` updates, at most ``--max-updates``. Prints one markdown
table: solved runs, and the median updates / env steps / wall seconds of the solved ones.

``--throughput`` times generations instead (the table "RPG vs PGPE episodes/s" in
docs/RPG.md): for each of ``--lengths`` of ``class-query``, one RPG update of ``--per-gen``
episodes against one PGPE generation of the same number of episodes (popsize ×
episodes per member = ``--per-gen``, for each of ``--pgpe-episodes``; popsize 256 with one
episode each drives 256 weight sets, as many as RPG's episodes), both with ``--policy`` and
the registry's class-query settings otherwise, built once and stepped alternately in one
process, ``--repeats`` times after two untimed generations each. A generation is
everything its learner does for it: RPG's sampling rollout, replay, backward and Adam step;
PGPE's ask, rollout and tell. Prints medians (episodes/s = episodes per generation /
median wall seconds per generation), the ratio RPG / PGPE, the same ratio of CPU seconds
(this process's user + system time, which does not count the time other processes on a
shared core take from it) and the load average before and after.

    taskset -c 0 python experiments/bench_rpg.py --throughput --lengths 50,200 \
        --policy lstm:hidden=16 --pgpe-episodes 1,16 --repeats 30

``--vs-ppo`` adds sb3-contrib's ``RecurrentPPO`` on the same task (one table, both
algorithms): ``gym:CartPole-v1,velocities=false`` becomes gymnasium's CartPole-v1 with the
velocity components removed, ``tmaze:...`` the dps T-maze wrapped as a one-episode
gymnasium env. RecurrentPPO uses rl-baselines3-zoo's CartPoleNoVel hyperparameters (8
envs, n_steps 32, batch 256, 4 epochs, γ 0.999, λ 0.98, lr 1e-3 → 0 linearly, clip 0.2 → 0,
LSTM 64 for actor and critic, no VecNormalize) and is evaluated greedily
(``deterministic=True``) every ``--ppo-eval-every`` env steps on the same criterion.

    python experiments/bench_rpg.py --vs-ppo --env gym:CartPole-v1,velocities=false \
        --policy lstm:hidden=4,input_scale=10 --baselines moving --metric return --target 475 \
        --eval-episodes 20 --seeds 0,1,2 --ppo-max-steps 150000
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch

from dps.algorithms.rpg import RPG, Config
from dps.envs.registry import make_env
from dps.policies import make_head, make_policy
from dps.rollout import rollout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sb3_peer import OneEpisodeGym, greedy_score, recurrent_ppo  # noqa: E402


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


def _gym_task(env_spec):
    """A gymnasium env for RecurrentPPO equivalent to ``env_spec``."""
    import gymnasium as gym
    import numpy as np

    if env_spec.startswith("gym:CartPole-v1") and "velocities=false" in env_spec:
        class NoVel(gym.ObservationWrapper):
            def __init__(self, env):
                super().__init__(env)
                lo, hi = env.observation_space.low[[0, 2]], env.observation_space.high[[0, 2]]
                self.observation_space = gym.spaces.Box(lo, hi, dtype=np.float32)

            def observation(self, obs):
                return obs[[0, 2]].astype(np.float32)

        return lambda: NoVel(gym.make("CartPole-v1"))
    if env_spec.startswith("tmaze"):
        return lambda: OneEpisodeGym(env_spec)
    raise SystemExit(f"--vs-ppo supports gym:CartPole-v1,velocities=false and tmaze:..., not {env_spec}")


def ppo_one(env_spec, seed, target, metric, max_steps, eval_every, eval_episodes):
    """RecurrentPPO until its greedy score reaches ``target``: (solved, steps, wall s, score)."""
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    make = _gym_task(env_spec)
    venv = make_vec_env(make, n_envs=8, seed=seed)
    eval_env = make()
    model = recurrent_ppo(venv, seed)

    def evaluate(k):
        return greedy_score(model, eval_env, eval_episodes, 10_000 + 1000 * k, metric)

    class Stop(BaseCallback):
        def __init__(self):
            super().__init__()
            self.next, self.score, self.k = eval_every, float("-inf"), 0

        def _on_step(self):
            if self.num_timesteps >= self.next:
                self.next += eval_every
                self.k += 1
                self.score = evaluate(self.k)
                if self.score >= target:
                    return False
            return True

    cb, t0 = Stop(), time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=cb)
    return cb.score >= target, model.num_timesteps, time.perf_counter() - t0, cb.score


def throughput(lengths, policy_spec, per_gen, pgpe_episodes, repeats, seed=0):
    """Median seconds per generation of RPG and of PGPE (one per entry of ``pgpe_episodes``)
    on ``class-query:length=L``, timed alternately in this process; prints one table."""
    from dps.algorithms.learner import SearchLearner
    from dps.algorithms.pgpe import PGPE, PGPEConfig
    from dps.evaluation import RolloutProblem
    from dps.runner.defaults import tuned

    load0 = os.getloadavg()
    print(f"policy {policy_spec}  {per_gen} episodes per generation  {repeats} timed generations each, "
          f"alternating  torch threads {torch.get_num_threads()}  load before {load0[0]:.2f} {load0[1]:.2f}")
    print("| length | RPG episodes/s | PGPE popsize × episodes | PGPE episodes/s | RPG / PGPE | "
          "RPG / PGPE by CPU time |")
    print("|---|---|---|---|---|---|")
    for L in lengths:
        spec = f"class-query:length={L}"
        learners = {}
        env = make_env(spec)
        policy = make_policy(policy_spec, env.observation_shape, make_head(env.action_space).out_size)
        rpg_opts = tuned("rpg", "class-query", {"length": L})[1]
        rpg_opts = {k: v for k, v in rpg_opts.items() if k in Config.__dataclass_fields__}
        learners["rpg"] = RPG(policy, env, Config(**{**rpg_opts, "episodes": per_gen}), seed=seed)
        pg_opts = tuned("pgpe", "class-query", {"length": L})[1]
        pg_opts = {k: v for k, v in pg_opts.items() if k in PGPEConfig.__dataclass_fields__}
        for E in pgpe_episodes:
            if per_gen % E or (per_gen // E) % 2:
                raise SystemExit(f"--pgpe-episodes {E}: {per_gen} episodes need an even popsize")
            cfg = PGPEConfig(**{**pg_opts, "popsize": per_gen // E})
            g = torch.Generator().manual_seed(seed)
            center = policy.init_params(g, scale=cfg.init_scale)
            learners[E] = SearchLearner(PGPE(center, cfg, seed=seed),
                                        RolloutProblem(policy, make_env(spec), E), seed)
        wall = {k: [] for k in learners}
        cpu = {k: [] for k in learners}
        for learner in learners.values():   # warm-up: allocations, first-call paths
            for _ in range(2):
                learner.step()
        order = list(learners)
        for r in range(repeats):
            for k in (order if r % 2 == 0 else order[::-1]):
                t0, c0 = time.perf_counter(), time.process_time()
                n = learners[k].step()["episodes"]
                wall[k].append(time.perf_counter() - t0)
                cpu[k].append(time.process_time() - c0)
                assert n == per_gen, (k, n)
        eps = {k: per_gen / statistics.median(v) for k, v in wall.items()}
        cps = {k: per_gen / statistics.median(v) for k, v in cpu.items()}
        for E in pgpe_episodes:
            print(f"| {L} | {eps['rpg']:,.0f} | {per_gen // E} × {E} | {eps[E]:,.0f} | "
                  f"{eps['rpg'] / eps[E]:.2f} | {cps['rpg'] / cps[E]:.2f} |", flush=True)
    load1 = os.getloadavg()
    print(f"load after {load1[0]:.2f} {load1[1]:.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", help="the task (required unless --throughput)")
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
    ap.add_argument("--vs-ppo", action="store_true", help="also run sb3-contrib RecurrentPPO (one table)")
    ap.add_argument("--ppo-max-steps", type=int, default=150_000)
    ap.add_argument("--ppo-eval-every", type=int, default=5_000, help="env steps between PPO evaluations")
    ap.add_argument("--throughput", action="store_true",
                    help="time RPG updates against PGPE generations of the same size (episodes/s)")
    ap.add_argument("--lengths", default="50,200", help="--throughput: class-query lengths")
    ap.add_argument("--per-gen", type=int, default=256, help="--throughput: episodes per generation")
    ap.add_argument("--pgpe-episodes", default="1,16",
                    help="--throughput: PGPE episodes per member (popsize = per-gen / this), comma-separated")
    ap.add_argument("--repeats", type=int, default=30, help="--throughput: timed generations per learner")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.throughput:
        throughput([int(x) for x in a.lengths.split(",")], a.policy, a.per_gen,
                   [int(x) for x in a.pgpe_episodes.split(",")], a.repeats, int(a.seeds.split(",")[0]))
        return
    if a.env is None:
        ap.error("--env is required (unless --throughput)")
    extra = {}
    for item in filter(None, a.set.split(",")):
        k, _, v = item.partition("=")
        extra[k] = eval(v, {}, {})  # numbers / True / False / None from the command line
    print(f"env {a.env}  policy {a.policy}  target {a.target}  max {a.max_updates} updates  {extra}")
    print("| algorithm | solved | median updates | median env steps | median wall s | final scores |")
    print("|---|---|---|---|---|---|")
    for b in a.baselines.split(","):
        runs = [run_one(a.env, a.policy, int(s), a.target, a.max_updates, a.eval_every, a.eval_episodes,
                        a.metric, baseline=b, **extra) for s in a.seeds.split(",")]
        ok = [r for r in runs if r[0]]
        # called in this iteration only (the print below); the default binds this baseline's runs
        med = (lambda i, ok=ok: f"{statistics.median(r[i] for r in ok):.0f}") if ok else (lambda i: "–")
        scores = " ".join(f"{r[4]:.2f}" for r in runs)
        print(f"| rpg ({b}) | {len(ok)}/{len(runs)} | {med(1)} | {med(2)} | {med(3)} | {scores} |", flush=True)
    if a.vs_ppo:
        metric = "success" if a.metric == "auto" and a.env.startswith("tmaze") else a.metric
        runs = [ppo_one(a.env, int(s), a.target, metric, a.ppo_max_steps, a.ppo_eval_every, a.eval_episodes)
                for s in a.seeds.split(",")]
        ok = [r for r in runs if r[0]]
        med = (lambda i: f"{statistics.median(r[i] for r in ok):.0f}") if ok else (lambda i: "–")
        scores = " ".join(f"{r[3]:.2f}" for r in runs)
        print(f"| RecurrentPPO (sb3-contrib) | {len(ok)}/{len(runs)} | – | {med(1)} | {med(2)} | {scores} |",
              flush=True)


if __name__ == "__main__":
    main()
