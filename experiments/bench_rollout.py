"""Rollout throughput: live env-steps/s of CartPole + LSTM-16 policies, side by side.

Compared in one run, on the same population size N = P×B and the same parameter
distribution:

* ``dps torch``  — dps's batched torch CartPole (``cartpole:discrete=true,integrator=gym``:
  gymnasium CartPole-v1's constants and Euler step) with ``LSTMPolicy(hidden=16)``,
  lock-step over P members × B episodes (:func:`dps.rollout`);
* ``dps torch, fast_tanh`` — the same with ``LSTMPolicy(hidden=16, fast_tanh=True)``
  (opt-in: every tanh as ``2σ(2x) − 1``; not bit-identical to the default, see
  :mod:`dps.policies.lstm`);
* ``dps gym``    — dps's ``gym:CartPole-v1`` adapter (real gymnasium envs, stepped one by
  one) with ``workers=1`` and ``workers=2`` (joblib processes);
* ``VecGymNE``   — evotorch's vectorised gymnasium problem, N solutions × 1 episode,
  network ``LSTM(obs_length, 16) >> Linear(16, act_length)``, in-process (no Ray actors);
* ``GymNE``      — evotorch's one-env-at-a-time gymnasium problem, same network,
  in-process. It evaluates solutions one after the other, so its steps/s does not
  depend on N: it is timed on ``--gymne-popsize`` solutions to keep the run short.

Regimes (both use parameters ``mean + N(0, 0.1²)`` per weight):

* ``random``    — mean 0: random policies that mostly fail within ~10-60 steps; the
  episode length limit is the env's own (500);
* ``balancing`` — mean = an LSTM that implements the linear controller
  ``push right iff 0.1x + 0.2ẋ + θ + 0.5θ̇ > 0`` through one cell (input, forget and output
  gates saturated; other cells zero), with the episode limit ``--long-steps``: most
  episodes run the full length, so throughput is measured on real-length episodes.

Only live env steps count (dps: ``RolloutResult.env_steps``; evotorch: the increase of
``interaction_count``). Each cell is the median over ``--repeats`` timed evaluations,
after one untimed warm-up (env construction, worker start-up).

    python experiments/bench_rollout.py                        # defaults used in BENCHMARKS.md
    python experiments/bench_rollout.py --sizes 256x16 --repeats 5 --device cuda
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dps  # noqa: E402
from dps.evaluation import run_episodes  # noqa: E402

HIDDEN = 16
SIGMA = 0.1
#: the balancing controller's gains on (x, ẋ, θ, θ̇) and its input scale
GAINS = (0.1, 0.2, 1.0, 0.5)
GAIN_SCALE = 10.0
SAT = 8.0      # saturating gate bias
OUT_W = 5.0    # readout weight of the controller cell


def dps_controller(policy: dps.LSTMPolicy) -> torch.Tensor:
    """dps LSTM flat vector: cell 0 computes tanh(tanh(10·k·obs)); readout ±5 on it."""
    H = policy.hidden
    v = torch.zeros(policy.num_params)

    def blk(name):
        sl, shape = policy.layout[name]
        return v[sl].view(*shape)

    W, b, Wo = blk("W0"), blk("b0"), blk("W_out")   # W0: (obs + H, 4H), gates i|f|g|o
    for j, k in enumerate(GAINS):
        W[j, 2 * H + 0] = GAIN_SCALE * k
    b[0], b[H], b[3 * H] = SAT, -SAT, SAT
    Wo[0, 0], Wo[0, 1] = -OUT_W, OUT_W
    return v


def evotorch_controller(problem) -> torch.Tensor:
    """The same controller in evotorch's LSTM layout (W_ii … b_ho, then the Linear)."""
    net = problem.make_net(torch.zeros(problem.solution_length))
    named = dict(net.named_parameters())
    with torch.no_grad():
        lstm = "_submodules.0."
        for j, k in enumerate(GAINS):
            named[lstm + "W_ig"][0, j] = GAIN_SCALE * k
        named[lstm + "b_ii"][0], named[lstm + "b_if"][0], named[lstm + "b_io"][0] = SAT, -SAT, SAT
        named["_submodules.1.weight"][0, 0], named["_submodules.1.weight"][1, 0] = -OUT_W, OUT_W
    v = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    check = problem.make_net(v)
    assert all(torch.equal(a, b) for a, b in zip(check.parameters(), net.parameters())), "layout mismatch"
    return v


def population(mean: torch.Tensor, N: int, regime: str, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = mean if regime == "balancing" else torch.zeros_like(mean)
    return base + SIGMA * torch.randn(N, mean.numel(), generator=g)


def timed(fn, repeats: int):
    """Median live steps, wall seconds, steps per wall second and steps per CPU second of
    this process over ``repeats`` calls after one warm-up."""
    fn(-1)
    secs, rates, cpu_rates, steps = [], [], [], []
    for r in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        n = fn(r)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        secs.append(dt)
        rates.append(n / dt)
        cpu_rates.append(n / max(dc, 1e-9))
        steps.append(n)
    return (statistics.median(steps), statistics.median(secs), statistics.median(rates),
            statistics.median(cpu_rates))


# ---- the contenders ------------------------------------------------------------------------
def bench_dps(spec: str, P: int, B: int, regime: str, args, workers: int = 1, fast_tanh: bool = False):
    T = args.long_steps if regime == "balancing" else None
    if T is not None:
        spec = f"{spec},max_steps={T}"
    device = "cpu" if spec.startswith("gym:") else args.device
    env = dps.make_env(spec, device=device)
    policy = dps.LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=HIDDEN,
                            fast_tanh=fast_tanh)
    params = population(dps_controller(policy), P, regime, args.seed).to(env.device)

    def run(r):
        return run_episodes(policy, env, params, B, seed=args.seed + r, workers=workers).env_steps

    out = timed(run, args.repeats)
    env.close()
    return out


def bench_evotorch(kind: str, N: int, regime: str, args):
    from evotorch.neuroevolution import GymNE, VecGymNE

    T = args.long_steps if regime == "balancing" else None
    env_config = {"max_episode_steps": T} if T is not None else None
    net = f"LSTM(obs_length, {HIDDEN}) >> Linear({HIDDEN}, act_length)"
    if kind == "VecGymNE":
        problem = VecGymNE("CartPole-v1", net, env_config=env_config, num_episodes=1, device="cpu")
    else:
        problem = GymNE("CartPole-v1", net, env_config=env_config, num_episodes=1)
    values = population(evotorch_controller(problem), N, regime, args.seed)

    def run(r):
        batch = problem.generate_batch(N)
        batch.set_values(values)
        before = problem.interaction_count
        problem.evaluate(batch)
        return problem.interaction_count - before

    return timed(run, args.repeats)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256x16,4096x1",
                    help="comma-separated PxB population × episodes sizes for dps (N = P·B for the peers)")
    ap.add_argument("--regimes", default="random,balancing", help="random and/or balancing")
    ap.add_argument("--long-steps", type=int, default=200, help="episode limit of the balancing regime")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per cell (median reported)")
    ap.add_argument("--device", default="cpu", help="device of the dps torch rows (cpu, cuda)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (1: on a loaded machine, OpenMP spin-waits of 2+ threads cost 10-50x)")
    ap.add_argument("--workers", default="1,2", help="worker counts for the dps gym rows")
    ap.add_argument("--gymne-popsize", type=int, default=32,
                    help="solutions timed for GymNE (serial: its steps/s does not depend on N)")
    ap.add_argument("--skip", default="", help="comma-separated rows to skip: torch,gym,vecgymne,gymne")
    ap.add_argument("--torch-spec", default="cartpole:discrete=true,integrator=gym",
                    help="dps torch env spec")
    ap.add_argument("--torch-variants", default="default,fast_tanh",
                    help="dps torch LSTM variants: default and/or fast_tanh")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import evotorch  # noqa: F401  (configures its loggers; quieten them afterwards)

    for name in ("evotorch", "evotorch.core"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    skip = set(filter(None, args.skip.split(",")))
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    regimes = args.regimes.split(",")
    workers = [int(w) for w in args.workers.split(",")]

    print(f"# bench_rollout  python {platform.python_version()}  torch {torch.__version__}  "
          f"threads {torch.get_num_threads()}  cpus {os.cpu_count()}  "
          f"load {os.getloadavg()[0]:.1f}  device {args.device}  repeats {args.repeats}", flush=True)
    rows = []  # (regime, impl, P, B, steps, secs, rate)
    for regime in regimes:
        Ns = sorted({P * B for P, B in sizes})
        peers = {}
        for N in Ns:
            if "vecgymne" not in skip:
                peers[("VecGymNE", N)] = r = bench_evotorch("VecGymNE", N, regime, args)
                rows.append((regime, "evotorch VecGymNE", N, 1, *r))
                print(rows[-1], flush=True)
        if "gymne" not in skip:
            n = min(args.gymne_popsize, max(Ns))
            peers[("GymNE", None)] = r = bench_evotorch("GymNE", n, regime, args)
            rows.append((regime, "evotorch GymNE", n, 1, *r))
            print(rows[-1], flush=True)
        for P, B in sizes:
            for variant in args.torch_variants.split(","):
                if "torch" in skip:
                    break
                r = bench_dps(args.torch_spec, P, B, regime, args, fast_tanh=variant == "fast_tanh")
                label = "" if variant == "default" else f", {variant}"
                rows.append((regime, f"dps torch ({args.device}{label})", P, B, *r))
                print(rows[-1], flush=True)
        for P, B in sizes[:1]:
            if "gym" not in skip:
                for w in workers:
                    r = bench_dps("gym:CartPole-v1", P, B, regime, args, workers=w)
                    rows.append((regime, f"dps gym workers={w}", P, B, *r))
                    print(rows[-1], flush=True)
        rows_regime = [row for row in rows if row[0] == regime]
        _table(rows_regime, peers)


def _table(rows, peers):
    print()
    print("| regime | implementation | P×B | live steps | median s | steps/s | × VecGymNE | × GymNE "
          "| steps/CPU-s (main process) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    gymne = peers.get(("GymNE", None))
    for regime, impl, P, B, steps, secs, rate, cpu_rate in rows:
        vec = peers.get(("VecGymNE", P * B))
        rv = f"{rate / vec[2]:.1f}" if vec else "–"
        rg = f"{rate / gymne[2]:.1f}" if gymne else "–"
        cr = "–" if "workers=" in impl and not impl.endswith("=1") else f"{cpu_rate:,.0f}"
        print(f"| {regime} | {impl} | {P}×{B} | {steps:,.0f} | {secs:.3f} | {rate:,.0f} | {rv} | {rg} | {cr} |")
    print(flush=True)


if __name__ == "__main__":
    main()
