"""Rollout throughput: live env-steps/s of CartPole + LSTM-16 policies, side by side.

Compared in one run, on the same population size N = P×B and the same parameter
distribution:

* ``dps torch``  — dps's batched torch CartPole (``cartpole:discrete=true,integrator=gym``:
  gymnasium CartPole-v1's constants and Euler step) with ``LSTMPolicy(hidden=16)``,
  P members × B episodes through :func:`dps.rollout`, on its default path: where a C
  compiler is found, the rollout plays whole episodes in dps's C kernel
  (:mod:`dps.native`);
* ``dps torch, torch ops only`` — the same with the C kernels off (``DPS_NATIVE=0``): the
  lock-step torch loop; ``…, fast_tanh`` adds ``LSTMPolicy(fast_tanh=True)`` (every tanh as
  ``2σ(2x) − 1``, which only changes the torch path);
* ``dps gym``    — dps's ``gym:CartPole-v1`` adapter (real gymnasium envs, stepped one by
  one) with ``workers=1`` and ``workers=2`` (the persistent worker pool of
  :mod:`dps.evaluation.workers`);
* ``RPG vs PGPE`` (``--rpg``, after the rollout tables) — episodes/s of an RPG update and
  of a PGPE generation of the same 256 class-query episodes, from
  ``experiments/bench_rpg.py --throughput``;
* ``VecGymNE``   — evotorch's vectorised gymnasium problem, N solutions × 1 episode,
  network ``LSTM(obs_length, 16) >> Linear(16, act_length)``, in-process (no Ray actors);
* ``GymNE``      — evotorch's one-env-at-a-time gymnasium problem, same network,
  in-process. It evaluates solutions one after the other, so its steps/s does not
  depend on N: it is timed on ``--gymne-popsize`` solutions to keep the run short.
* ``JAX``        — this script's own jit-compiled JAX rollout (optional: ``pip install -e
  ".[bench]"``; without jax these rows are skipped with one line saying so): gymnasium
  CartPole-v1's constants, Euler step and termination in float64, dps's LSTM-16 (same
  flat layout, same parameter rows, float32, raw observations as ``integrator=gym``
  gives them) with the greedy argmax of its 2 outputs, P members × B episodes from
  uniform(±0.05) starts. Two loops: ``lax.scan`` over the step limit with finished slots
  masked, and an early-exit ``lax.while_loop`` that stops when every slot is done. The
  columns ``× JAX scan`` / ``× JAX while`` divide a row's steps/s by that JAX row's at
  the same P and B (for the dps rows: the dps/JAX ratio). ``--check`` compares the JAX
  rollout's episode lengths with dps's from the same start states and the JAX env step
  with gymnasium's, then exits.

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
    python experiments/bench_rollout.py --quick                # dps torch vs JAX only, 256x16
    python experiments/bench_rollout.py --check                # JAX peer vs dps and gymnasium
"""
from __future__ import annotations

import argparse
import logging
import math
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
from dps.seeding import make_generator  # noqa: E402

HIDDEN = 16
SIGMA = 0.1
#: the balancing controller's gains on (x, ẋ, θ, θ̇) and its input scale
GAINS = (0.1, 0.2, 1.0, 0.5)
GAIN_SCALE = 10.0
SAT = 8.0      # saturating gate bias
OUT_W = 5.0    # readout weight of the controller cell


#: the dps rows: the default path (C kernels where a compiler is found), torch operations
#: only (DPS_NATIVE=0), and torch operations with fast_tanh (which only changes the torch path)
TORCH_VARIANTS = {"default": "", "torch": ", torch ops only", "torch-fast_tanh": ", torch ops only, fast_tanh"}


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
def bench_dps(spec: str, P: int, B: int, regime: str, args, workers: int = 1, fast_tanh: bool = False,
              torch_ops: bool = False):
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

    before = os.environ.get("DPS_NATIVE")
    if torch_ops:  # dps's torch path: the C kernels off (dps/native/__init__.py)
        os.environ["DPS_NATIVE"] = "0"
    try:
        out = timed(run, args.repeats)
    finally:
        if torch_ops:
            if before is None:
                del os.environ["DPS_NATIVE"]
            else:
                os.environ["DPS_NATIVE"] = before
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


# ---- the JAX peer (this script's own implementation) ---------------------------------------
#: gymnasium CartPole-v1: gravity, cart mass, pole mass, pole half-length, force, time step
CP_G, CP_MC, CP_MP, CP_L, CP_F, CP_TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
CP_X_MAX, CP_THETA_MAX = 2.4, 12 * 2 * math.pi / 360
CP_LIMIT = 500  # CartPole-v1's time limit (the random regime's episode limit)
JAX_ROWS = {"scan": "JAX lax.scan (jit)", "while": "JAX while_loop (jit)"}


def _import_jax(threads: int):
    """jax with float64 enabled, or None when it is not installed. With one thread, XLA's
    CPU client is asked for one intra-op thread (unless XLA_FLAGS is already set)."""
    if threads == 1:
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_cartpole_step(jnp, s, action):
    """One Euler step of CartPole-v1 on ``s = (x, ẋ, θ, θ̇)`` (float64 arrays), action 1 →
    +10 N, else −10 N. Returns the new state and ``failed`` (|x| > 2.4 or |θ| > 12°,
    written as "not inside" so that a NaN state fails too)."""
    x, x_dot, theta, theta_dot = s
    force = jnp.where(action == 1, CP_F, -CP_F)
    total = CP_MC + CP_MP
    ml = CP_MP * CP_L
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    temp = (force + ml * (theta_dot * theta_dot) * sin) / total
    theta_acc = (CP_G * sin - cos * temp) / (CP_L * (4.0 / 3.0 - CP_MP * (cos * cos) / total))
    x_acc = temp - ml * theta_acc * cos / total
    new = (x + CP_TAU * x_dot, x_dot + CP_TAU * x_acc, theta + CP_TAU * theta_dot, theta_dot + CP_TAU * theta_acc)
    failed = ~((jnp.abs(new[0]) <= CP_X_MAX) & (jnp.abs(new[2]) <= CP_THETA_MAX))
    return new, failed


def jax_params(policy: dps.LSTMPolicy, params: torch.Tensor):
    """dps's flat rows ``(P, D)`` as float32 numpy blocks ``W (P, n_in + H, 4H)``, ``b (P, 4H)``,
    ``W_out (P, H, n_out)``, ``b_out (P, n_out)`` (dps's layout; one layer, no peepholes)."""
    assert policy.layers == 1 and not policy.peepholes and not policy.skip and policy.input_scale == 1.0
    flat = params.detach().cpu().numpy().astype("float32")
    out = []
    for name in ("W0", "b0", "W_out", "b_out"):
        sl, shape = policy.layout[name]
        out.append(flat[:, sl].reshape(flat.shape[0], *shape))
    return tuple(out)


def make_jax_rollout(jax, T: int, loop: str):
    """jit-compiled ``f(blocks, s0) -> (lengths (P, B), live steps)``: greedy LSTM episodes
    from the float64 start states ``s0 (P, B, 4)`` (x, ẋ, θ, θ̇) for at most ``T`` steps;
    ``loop`` = ``scan`` (every step, finished slots masked) or ``while`` (stops when all
    slots are done)."""
    jnp, lax = jax.numpy, jax.lax

    def step(blocks, carry):
        W, b, W_out, b_out = blocks
        s, h, c, alive, lengths = carry
        H = h.shape[-1]
        obs = jnp.stack(s, -1).astype(W.dtype)    # raw (x, ẋ, θ, θ̇) in the parameters' dtype, as dps's obs
        z = jnp.einsum("pbi,pij->pbj", jnp.concatenate([obs, h], -1), W) + b[:, None, :]
        i, f = jax.nn.sigmoid(z[..., :H]), jax.nn.sigmoid(z[..., H:2 * H])
        g, o = jnp.tanh(z[..., 2 * H:3 * H]), jax.nn.sigmoid(z[..., 3 * H:])
        c = f * c + i * g
        h = o * jnp.tanh(c)
        out = jnp.einsum("pbh,pho->pbo", h, W_out) + b_out[:, None, :]
        action = jnp.argmax(out, -1)
        new, failed = jax_cartpole_step(jnp, s, action)
        s = tuple(jnp.where(alive, n, o_) for n, o_ in zip(new, s))   # finished slots stay frozen
        lengths = lengths + alive                                      # reward 1 per live step
        alive = alive & ~failed
        return s, h, c, alive, lengths

    def run(blocks, s0):
        P, B = s0.shape[:2]
        H = blocks[2].shape[1]
        zeros = jnp.zeros((P, B, H), blocks[0].dtype)   # the policy runs in the parameters' dtype (float32)
        carry = (tuple(s0[..., k] for k in range(4)), zeros, zeros,
                 jnp.ones((P, B), bool), jnp.zeros((P, B), jnp.int32))
        if loop == "scan":
            carry, _ = lax.scan(lambda cr, _: (step(blocks, cr), None), carry, None, length=T)
        else:
            def cond(tc):
                return (tc[0] < T) & tc[1][3].any()
            _, carry = lax.while_loop(cond, lambda tc: (tc[0] + 1, step(blocks, tc[1])), (0, carry))
        lengths = carry[4]
        return lengths, lengths.sum(dtype=jnp.int64)

    return jax.jit(run)


def bench_jax(jax, loop: str, P: int, B: int, regime: str, args):
    """Live env steps/s of the JAX rollout on the same parameter rows as the dps torch rows
    (fresh uniform(±0.05) starts per repeat, drawn inside the jitted function)."""
    jnp = jax.numpy
    T = args.long_steps if regime == "balancing" else CP_LIMIT
    policy = dps.LSTMPolicy((4,), 2, hidden=HIDDEN)
    blocks = tuple(jnp.asarray(a) for a in jax_params(policy, population(dps_controller(policy), P, regime,
                                                                         args.seed)))
    core = make_jax_rollout(jax, T, loop)

    @jax.jit
    def episodes(blocks, key):
        s0 = jax.random.uniform(key, (P, B, 4), jnp.float64, -0.05, 0.05)
        return core(blocks, s0)[1]

    def run(r):
        steps = episodes(blocks, jax.random.PRNGKey(args.seed + 1 + r))
        return int(steps.block_until_ready())

    return timed(run, args.repeats)


def check_jax(jax, args) -> bool:
    """The JAX peer against dps (episode lengths from the same start states and parameter
    rows, both regimes, ``--check-size``; ≥ 99 % of slots must agree) and its env step
    against gymnasium's CartPole-v1 (random states and actions; ≤ 1e-12 apart, same
    terminations). True when every check passes.

    An extra, informational line uses high-gain policies (the controller + N(0, 1²) per
    weight, limit 500), whose bang-bang trajectories are chaotic: there a 1-ulp difference in
    the float64 physics (XLA fuses some multiply-adds, so its Euler step can differ from
    numpy's / torch's in the last bit) can change an episode's length."""
    import gymnasium
    import numpy as np

    jnp = jax.numpy
    ok = True
    P, B = (int(x) for x in args.check_size.split("x"))
    for regime in ("balancing", "random", "high-gain"):
        T = args.long_steps if regime == "balancing" else CP_LIMIT
        env = dps.make_env(f"{args.torch_spec},max_steps={T}")
        policy = dps.LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=HIDDEN)
        if regime == "high-gain":
            g = torch.Generator().manual_seed(args.seed)
            params = dps_controller(policy) + torch.randn(P, policy.num_params, generator=g)
        else:
            params = population(dps_controller(policy), P, regime, args.seed)
        seed = args.seed + 12345
        env.reset(P, B, make_generator(seed, "cpu"))   # the rollout's own first draw
        s0 = env.state.clone()
        res = dps.rollout(policy, env, params, B, seed)
        blocks = tuple(jnp.asarray(a) for a in jax_params(policy, params))
        for loop in ("scan", "while"):
            lengths, steps = make_jax_rollout(jax, T, loop)(blocks, jnp.asarray(s0.numpy()))
            same = float((np.asarray(lengths) == res.lengths.numpy()).mean())
            passed = same >= 0.99
            if regime == "high-gain":
                verdict = "(informational)"
            else:
                ok &= passed
                verdict = "PASS" if passed else "FAIL"
            print(f"check {regime:9s} {P}x{B} T={T} {JAX_ROWS[loop]}: episode lengths equal to dps on "
                  f"{same:.2%} of slots ({float((res.lengths < T).double().mean()):.0%} of dps's end before T); "
                  f"live steps JAX {int(steps):,} / dps {res.env_steps:,} {verdict}", flush=True)
    rng = np.random.default_rng(args.seed)
    n = args.check_states
    states = rng.uniform([-2.4, -3.0, -0.21, -3.0], [2.4, 3.0, 0.21, 3.0], size=(n, 4))
    actions = rng.integers(0, 2, size=n)
    gym_env = gymnasium.make("CartPole-v1").unwrapped
    gym_env.reset(seed=args.seed)
    ref_state, ref_obs, ref_term = [], [], []
    for s, a in zip(states, actions):
        gym_env.reset()
        gym_env.state = s.copy()
        obs, reward, terminated, _, _ = gym_env.step(int(a))
        assert reward == 1.0
        ref_state.append(np.asarray(gym_env.state, dtype=np.float64))
        ref_obs.append(obs)
        ref_term.append(terminated)
    step = jax.jit(lambda s, a: jax_cartpole_step(jnp, tuple(s[:, k] for k in range(4)), a))
    new, failed = step(jnp.asarray(states), jnp.asarray(actions))
    new = np.stack([np.asarray(v) for v in new], -1)
    ref_state = np.stack(ref_state)
    err = float(np.abs(new - ref_state).max())
    bit_equal = float((new == ref_state).all(-1).mean())
    obs_equal = float((new.astype(np.float32) == np.stack(ref_obs)).all(-1).mean())
    term_equal = float((np.asarray(failed) == np.array(ref_term)).mean())
    passed = err <= 1e-12 and term_equal == 1.0
    ok &= passed
    print(f"check env step vs gymnasium CartPole-v1 on {n} random states/actions "
          f"({int(np.sum(ref_term))} terminating): max |Δstate| {err:.1e} (bit-equal on {bit_equal:.1%}), "
          f"float32 observations equal on "
          f"{obs_equal:.1%}, termination equal on {term_equal:.1%} {'PASS' if passed else 'FAIL'}", flush=True)
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256x16,4096x1",
                    help="comma-separated PxB population × episodes sizes for dps (N = P·B for the peers)")
    ap.add_argument("--regimes", default="random,balancing", help="random and/or balancing")
    ap.add_argument("--long-steps", type=int, default=200, help="episode limit of the balancing regime")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per cell (median reported)")
    ap.add_argument("--device", default="cpu", help="device of the dps torch rows (cpu, cuda)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (1: on a loaded machine, OpenMP spin-waits of 2+ threads cost "
                         "10-50x); with 1, XLA is also asked for one thread unless XLA_FLAGS is set")
    ap.add_argument("--workers", default="1,2", help="worker counts for the dps gym rows")
    ap.add_argument("--gymne-popsize", type=int, default=32,
                    help="solutions timed for GymNE (serial: its steps/s does not depend on N)")
    ap.add_argument("--skip", default="", help="comma-separated rows to skip: torch,gym,vecgymne,gymne,jax")
    ap.add_argument("--torch-spec", default="cartpole:discrete=true,integrator=gym",
                    help="dps torch env spec")
    ap.add_argument("--torch-variants", default="default,torch",
                    help="dps rows: default (C kernels where available), torch (DPS_NATIVE=0), torch-fast_tanh")
    ap.add_argument("--jax-loops", default="scan,while", help="JAX rows: scan and/or while")
    ap.add_argument("--quick", action="store_true",
                    help="dps torch and JAX rows only, at 256x16 (unless --sizes is given)")
    ap.add_argument("--check", action="store_true",
                    help="check the JAX peer (episode lengths vs dps, env step vs gymnasium) and exit")
    ap.add_argument("--check-size", default="64x8", help="PxB of the --check rollouts")
    ap.add_argument("--check-states", type=int, default=500, help="random states/actions of the env-step check")
    ap.add_argument("--rpg", action="store_true",
                    help="also print RPG vs PGPE episodes/s on class-query (experiments/bench_rpg.py --throughput)")
    ap.add_argument("--rpg-lengths", default="50,200", help="--rpg: class-query lengths")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    jax = _import_jax(args.threads)
    if args.check:
        if jax is None:
            sys.exit("--check needs jax (pip install -e \".[bench]\")")
        sys.exit(0 if check_jax(jax, args) else 1)
    if args.quick:
        if args.sizes == ap.get_default("sizes"):
            args.sizes = "256x16"
        args.skip = ",".join(filter(None, [args.skip, "gym", "vecgymne", "gymne"]))
    import evotorch  # noqa: F401  (configures its loggers; quieten them afterwards)

    for name in ("evotorch", "evotorch.core"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    skip = set(filter(None, args.skip.split(",")))
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    regimes = args.regimes.split(",")
    workers = [int(w) for w in args.workers.split(",")]
    if jax is None and "jax" not in skip:
        print("# JAX rows skipped: jax is not installed (pip install -e \".[bench]\")", flush=True)
        skip.add("jax")

    print(f"# bench_rollout  python {platform.python_version()}  torch {torch.__version__}  "
          f"threads {torch.get_num_threads()}  cpus {os.cpu_count()}  "
          f"load {os.getloadavg()[0]:.1f}  device {args.device}  repeats {args.repeats}"
          + (f"  jax {jax.__version__} ({jax.default_backend()}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r})"
             if "jax" not in skip else ""), flush=True)
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
                if variant not in TORCH_VARIANTS:
                    raise SystemExit(f"--torch-variants: unknown {variant!r}; accepted: {', '.join(TORCH_VARIANTS)}")
                r = bench_dps(args.torch_spec, P, B, regime, args, fast_tanh="fast_tanh" in variant,
                              torch_ops=variant.startswith("torch"))
                label = TORCH_VARIANTS[variant]
                rows.append((regime, f"dps torch ({args.device}{label})", P, B, *r))
                print(rows[-1], flush=True)
        for P, B in sizes:
            for loop in args.jax_loops.split(","):
                if "jax" in skip:
                    break
                peers[(loop, P, B)] = r = bench_jax(jax, loop, P, B, regime, args)
                rows.append((regime, JAX_ROWS[loop], P, B, *r))
                print(rows[-1], flush=True)
        for P, B in sizes[:1]:
            if "gym" not in skip:
                for w in workers:
                    r = bench_dps("gym:CartPole-v1", P, B, regime, args, workers=w)
                    rows.append((regime, f"dps gym workers={w}", P, B, *r))
                    print(rows[-1], flush=True)
        rows_regime = [row for row in rows if row[0] == regime]
        _table(rows_regime, peers)
    if args.rpg:
        from bench_rpg import throughput

        print()
        throughput([int(x) for x in args.rpg_lengths.split(",")], "lstm:hidden=16", 256, [1, 16],
                   max(args.repeats, 10), seed=args.seed)


def _table(rows, peers):
    print()
    print("| regime | implementation | P×B | live steps | median s | steps/s | × VecGymNE | × GymNE "
          "| × JAX scan | × JAX while | steps/CPU-s (main process) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    gymne = peers.get(("GymNE", None))
    for regime, impl, P, B, steps, secs, rate, cpu_rate in rows:
        vec = peers.get(("VecGymNE", P * B))
        rv = f"{rate / vec[2]:.1f}" if vec else "–"
        rg = f"{rate / gymne[2]:.1f}" if gymne else "–"
        rj = [f"{rate / peers[(loop, P, B)][2]:.2f}" if (loop, P, B) in peers else "–" for loop in JAX_ROWS]
        cr = "–" if "workers=" in impl and not impl.endswith("=1") else f"{cpu_rate:,.0f}"
        print(f"| {regime} | {impl} | {P}×{B} | {steps:,.0f} | {secs:.3f} | {rate:,.0f} | {rv} | {rg} "
              f"| {rj[0]} | {rj[1]} | {cr} |")
    print(flush=True)


if __name__ == "__main__":
    main()
