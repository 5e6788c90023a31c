"""Contract tests parametrised over the four registries: every registered env, policy,
algorithm (searcher or learner) and task is held to the interface it promises.

A new registry entry is tested by registering it, nothing else: the parameters below are
read from the registries at collection time. Each entry is built from its defaults, or
from the small spec of the ``*_SPECS`` tables where the default is expensive or needs an
argument; an entry that cannot be built that way fails its tests (it is never skipped).

The contracts are the ones written down in the code: envs ``dps/envs/base.py`` (and the
engine that relies on them, ``dps/rollout.py``), policies ``dps/policies/base.py``,
searchers ``dps/algorithms/base.py``, learners ``dps/algorithms/learner.py``, tasks
``dps/tasks/__init__.py``. ``tests/test_extending.py`` runs the same functions on the
worked examples of docs/EXTENDING.md.
"""
from __future__ import annotations

import inspect
import math
import warnings

import pytest
import torch
from statecheck import assert_same, roundtrip

from dps.algorithms import ALGORITHMS
from dps.envs.registry import ENVS
from dps.errors import UserError
from dps.policies import POLICIES
from dps.rollout import rollout
from dps.runner import RunConfig, resolve
from dps.runner.build import Run
from dps.seeding import make_generator
from dps.spaces import Box, Discrete, MultiDiscrete
from dps.tasks import TASKS, save_prediction_plot

warnings.filterwarnings("ignore", module="evotorch")

# ---------------------------------------------------------------- cheap specs ----
#: env name -> spec, only where the default cannot be built (gym needs an id) or is slow
ENV_SPECS = {"gym": "gym:CartPole-v1"}
#: env cases beyond the registry's entries: action and observation spaces only the gym adapter
#: has (a user's env of tests/plugin_envs.py: Dict/Tuple observation, MultiDiscrete with
#: offsets, MultiBinary), held to the same env contract
SPACE_SPECS = {"gym-multidiscrete": "gym:plugin_envs:PluginChoose-v0",
               "gym-multibinary": "gym:plugin_envs:PluginChooseBinary-v0"}
ENV_SPECS.update(SPACE_SPECS)
#: policy name -> spec with small hidden sizes (the gradient check is one pass per parameter)
POLICY_SPECS = {"lstm": "lstm:hidden=3,peepholes=true", "mlp": "mlp:hidden=4", "rnn": "rnn:hidden=3",
                "mdlstm": "mdlstm:hidden=2"}
#: policy name -> (obs_shape, out_size) where a policy is tied to an observation shape
POLICY_SHAPES = {"mdlstm": ((2, 3, 3), 9)}
DEFAULT_SHAPE = ((3,), 2)
#: learner name -> the small run it is built for (RunConfig fields); a learner without a row
#: is built for DEFAULT_LEARNER_RUN with its Config defaults
LEARNER_RUNS = {
    "rpg": dict(env="tmaze:length=3", policy="lstm:hidden=3", episodes=4),
    "evolino": dict(task="sines:n=2", policy="lstm:hidden=3,peepholes=true", popsize=4,
                    algo_options={"trials": 1, "baselines": False}),
}
DEFAULT_LEARNER_RUN = dict(env="tmaze:length=3", policy="lstm:hidden=3", episodes=4, popsize=4)
#: task name -> spec (every default is cheap: none so far)
TASK_SPECS: dict = {}

ENV_NAMES = list(ENVS)
ENV_CASES = ENV_NAMES + list(SPACE_SPECS)
POLICY_NAMES = list(POLICIES)
SEARCHER_NAMES = [n for n, e in ALGORITHMS.items() if e.kind == "searcher"]
LEARNER_NAMES = [n for n, e in ALGORITHMS.items() if e.kind == "learner"]
TASK_NAMES = list(TASKS)


def test_every_algorithm_is_a_searcher_or_a_learner():
    """An entry of another kind would fall through both parametrisations untested."""
    assert {e.kind for _, e in ALGORITHMS.items()} <= {"searcher", "learner"}
    assert SEARCHER_NAMES and LEARNER_NAMES and ENV_NAMES and POLICY_NAMES and TASK_NAMES


@pytest.mark.parametrize("registry,name", [(r, n) for r in (ALGORITHMS, ENVS, POLICIES, TASKS) for n in r],
                         ids=lambda x: getattr(x, "kind", x))
def test_entry_options_are_readable(registry, name):
    """``--list`` / ``--help`` / spec parsing read the options from the target itself."""
    entry = registry[name]
    options = entry.options()
    assert all(o.name.isidentifier() for o in options)
    assert "(unavailable" not in entry.describe()
    assert entry.summary.strip()


def spec_value(value) -> str:
    """``value`` as a spec writes it (``dps/spec.py``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "+".join(map(str, value))
    return str(value)


@pytest.mark.parametrize("registry,name", [(r, n) for r in (ALGORITHMS, ENVS, POLICIES, TASKS) for n in r],
                         ids=lambda x: getattr(x, "kind", x))
def test_entry_spec_sets_exactly_the_listed_options(registry, name):
    """The options ``--list`` shows are the ones a spec may set, each converted from its
    text (the one description of dps/registry.py's module docstring)."""
    listed = registry[name].options()
    base = {"env": ENV_SPECS, "policy": POLICY_SPECS, "task": TASK_SPECS}.get(registry.kind, {}).get(name, name)
    sep = "," if ":" in base else ":"
    with pytest.raises(UserError, match="accepted: ") as err:
        registry.options(f"{base}{sep}no_such_option=1")
    accepted = str(err.value).rsplit("accepted: ", 1)[1]
    assert (set() if accepted == "(none)" else set(accepted.split(", "))) == {o.name for o in listed}
    given = registry.options(base)
    for o in listed:
        if o.required or o.default is None or spec_value(o.default) == "" or o.name in given:
            continue
        assert registry.options(f"{base}{sep}{o.name}={spec_value(o.default)}") == {**given, o.name: o.default}


# ======================================================================== envs ====
def build_env(name, device="cpu"):
    return ENVS.build(ENV_SPECS.get(name, name), device=device)


def random_action(env, P, B, gen):
    """Actions of the env's space drawn from the CPU generator ``gen`` (the same numbers on
    every device); legal ones where the env has an action mask."""
    space = env.action_space
    # Discrete: long (P, B); MultiDiscrete: long (P, B, k); Box: float (P, B, dim) (dps/envs/base.py)
    if isinstance(space, MultiDiscrete):
        return torch.stack([torch.randint(0, n, (P, B), generator=gen) for n in space.nvec], -1).to(env.device)
    if isinstance(space, Discrete):
        if env.has_action_mask:
            scores = torch.rand(P, B, space.n, generator=gen).to(env.device)
            return scores.masked_fill(~env.action_mask(), -1.0).argmax(-1)
        return torch.randint(0, space.n, (P, B), generator=gen).to(env.device)
    low, high = torch.tensor(space.low), torch.tensor(space.high)
    return (low + torch.rand(P, B, space.dim, generator=gen) * (high - low)).to(env.device)


def check_step(env, out, P, B):
    obs, reward, done, info = out
    assert tuple(obs.shape) == (P, B, *env.observation_shape) and obs.is_floating_point()
    assert obs.device.type == env.device.type
    assert tuple(reward.shape) == (P, B) and reward.is_floating_point()
    assert tuple(done.shape) == (P, B) and done.dtype == torch.bool
    assert isinstance(info, dict)
    for key, value in info.items():  # a dict of (P, B) tensors
        assert isinstance(value, torch.Tensor) and tuple(value.shape) == (P, B), key
    if env.has_success:
        assert info["success"].dtype == torch.bool
    check_mask(env, P, B)


def check_mask(env, P, B):
    if env.has_action_mask:
        mask = env.action_mask()
        assert tuple(mask.shape) == (P, B, env.action_space.n) and mask.dtype == torch.bool
        assert bool(mask.any(-1).all())  # a slot without a legal action cannot act


def play(env, P, B, seed, action_seed=0, extra=3):
    """Reset with ``seed`` and step with a fixed action sequence until every slot is done
    (at ``max_steps`` at the latest), then ``extra`` steps more; the per-step records and
    whether the env drew from the reset generator."""
    gen = make_generator(seed, env.device)
    before = gen.get_state()
    obs = env.reset(P, B, gen)
    assert tuple(obs.shape) == (P, B, *env.observation_shape) and obs.is_floating_point()
    assert obs.device.type == env.device.type
    check_mask(env, P, B)
    act = torch.Generator().manual_seed(action_seed)
    records = [obs.cpu()]
    done = torch.zeros(P, B, dtype=torch.bool, device=env.device)
    steps = 0
    while steps < env.max_steps and not bool(done.all()):
        out = env.step(random_action(env, P, B, act))
        check_step(env, out, P, B)
        done = done | out[2]
        steps += 1
        records += [x.cpu() for x in out[:3]] + [v.cpu() for _, v in sorted(out[3].items())]
    assert bool(done.all()), f"slots still running after max_steps={env.max_steps} steps"
    for _ in range(extra):  # done slots keep being stepped (lock-step) with arbitrary actions
        out = env.step(random_action(env, P, B, act))
        check_step(env, out, P, B)
    drew = not torch.equal(gen.get_state(), before)
    return records, drew


def same_records(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("name", ENV_CASES)
def test_env_spaces_reset_step_and_done_slots(name):
    """Shapes and dtypes of reset/step/info/action_mask over whole episodes, done at
    ``max_steps`` at the latest, done slots still steppable."""
    env = build_env(name)
    assert isinstance(env.action_space, (Discrete, MultiDiscrete, Box))
    assert env.observation_size == math.prod(env.observation_shape) >= 1
    assert isinstance(env.max_steps, int) and env.max_steps >= 1
    assert not env.has_action_mask or isinstance(env.action_space, Discrete)
    play(env, 2, 3, seed=0)
    env.close()


@pytest.mark.parametrize("name", ENV_CASES)
def test_env_is_deterministic_per_seed(name):
    """Same seed ⇒ same trajectory, on a reused instance (also after a reset of another
    size) and on a fresh one. An env that draws from the reset generator gives other
    episodes for other seeds; one that draws nothing gives the same for every seed (it
    has no other source of randomness)."""
    P, B = 4, 3
    env = build_env(name)
    first, drew = play(env, P, B, seed=1)
    play(env, 1, 2, seed=5)
    again, _ = play(env, P, B, seed=1)
    assert same_records(first, again)
    fresh = build_env(name)
    assert same_records(first, play(fresh, P, B, seed=1)[0])
    others = [play(env, P, B, seed=s)[0] for s in (2, 3)]
    if drew:
        assert not all(same_records(first, o) for o in others), "other seeds give the same episodes"
    else:
        assert all(same_records(first, o) for o in others), "episodes differ without drawing from the generator"
    env.close()
    fresh.close()


def linear_params(env, P, seed=0):
    policy = POLICIES.build("linear", env.observation_shape, env.action_space.out_size)
    return policy, torch.randn(P, policy.num_params, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", ENV_CASES)
def test_env_max_steps_respected_by_rollout(name):
    env = build_env(name)
    policy, params = linear_params(env, 3)
    res = rollout(policy, env, params, episodes=2, seed=0, record=True)
    assert tuple(res.lengths.shape) == (3, 2) and bool((res.lengths >= 1).all())
    assert int(res.lengths.max()) <= env.max_steps and res.env_steps == int(res.lengths.sum())
    tr = res.trajectory
    assert tuple(tr.obs.shape[1:]) == (3, 2, *env.observation_shape)
    assert tr.obs.shape[0] == int(res.lengths.max())
    assert torch.equal(tr.alive.sum(0), res.lengths)
    assert (tr.masks is not None) == env.has_action_mask
    cap = max(1, min(env.max_steps - 1, 2))
    capped = rollout(policy, env, params, episodes=2, seed=0, max_steps=cap)
    assert int(capped.lengths.max()) <= cap
    env.close()


@pytest.mark.parametrize("name", [n for n in ENV_NAMES if getattr(ENVS[n].load(), "supports_select_rows", False)])
def test_env_select_rows_keeps_rows_and_step_draws_nothing(name):
    """``select_rows`` keeps exactly the chosen members' episodes, and ``step`` never draws
    from the reset generator (what lets the rollout drop finished members)."""
    P, B = 4, 3
    full, part = build_env(name), build_env(name)
    assert full.supports_select_rows
    gen_full, gen_part = make_generator(7, full.device), make_generator(7, part.device)
    out_full, out_part = full.reset(P, B, gen_full), part.reset(P, B, gen_part)
    act = torch.Generator().manual_seed(1)
    keep = torch.tensor([1, 3])
    for t in range(min(full.max_steps, 4)):
        if t == 1:
            part.select_rows(keep)
        a = random_action(full, P, B, act)
        state = gen_full.get_state(), gen_part.get_state()
        out_full = full.step(a)
        out_part = part.step(a if t < 1 else a[keep])
        assert torch.equal(gen_full.get_state(), state[0]) and torch.equal(gen_part.get_state(), state[1])
        rows = slice(None) if t < 1 else keep
        for x, y in zip(out_full[:3], out_part[:3]):
            assert torch.equal(x[rows], y)
        for k, v in out_full[3].items():
            assert torch.equal(v[rows], out_part[3][k]), k
        if t >= 1:
            check_step(part, out_part, len(keep), B)


@pytest.mark.cuda
@pytest.mark.parametrize("name", ENV_NAMES)
def test_env_cuda_runs_the_same_code(name):
    """On CUDA: the same contract, the same trajectory per seed, and — where the env
    draws nothing from the generator (CPU and CUDA generators give different numbers) —
    the same episodes as on the CPU; greedy rollouts agree in the same way."""
    try:
        gpu = build_env(name, device="cuda")
    except UserError as exc:
        if "CPU" not in str(exc):
            raise
        pytest.skip(f"{name} steps on the CPU only: {exc}")
    cpu = build_env(name)
    on_gpu, drew = play(gpu, 2, 3, seed=1)
    assert same_records(on_gpu, play(gpu, 2, 3, seed=1)[0])
    policy, params = linear_params(cpu, 3)
    res_gpu = rollout(policy, gpu, params.cuda(), episodes=2, seed=0)
    assert res_gpu.returns.device.type == "cuda"
    if not drew:
        on_cpu, _ = play(cpu, 2, 3, seed=1)
        assert len(on_cpu) == len(on_gpu)
        for x, y in zip(on_cpu, on_gpu):
            assert x.dtype == y.dtype and x.shape == y.shape
            assert torch.allclose(x.double(), y.double(), atol=1e-4) if x.is_floating_point() else torch.equal(x, y)
        res_cpu = rollout(policy, cpu, params, episodes=2, seed=0)
        assert torch.equal(res_cpu.lengths, res_gpu.lengths.cpu())
        assert torch.allclose(res_cpu.returns.double(), res_gpu.returns.cpu().double(), atol=1e-4)


# ==================================================================== policies ====
def build_policy(name, device=None):
    obs_shape, out_size = POLICY_SHAPES.get(name, DEFAULT_SHAPE)
    return POLICIES.build(POLICY_SPECS.get(name, name), obs_shape, out_size)


def random_params(policy, P, seed, dtype=torch.float64):
    """The policy's own initialisation plus noise (biases and borders away from zero)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.stack([policy.init_params(g, 1.0, dtype=dtype) for _ in range(P)])
    return base + 0.3 * torch.randn(P, policy.num_params, generator=g, dtype=dtype)


def random_obs(policy, T, P, B, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, P, B, *policy.obs_shape, generator=g, dtype=dtype)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_policy_params_layout_and_initial_state(name):
    pol = build_policy(name)
    D = pol.num_params
    g = torch.Generator().manual_seed(0)
    theta = pol.init_params(g)
    assert tuple(theta.shape) == (D,) and theta.dtype == torch.float32 and torch.isfinite(theta).all()
    assert torch.equal(pol.init_params(torch.Generator().manual_seed(0)), theta)       # generator-driven
    assert pol.init_params(g, dtype=torch.float64).dtype == torch.float64
    assert torch.equal(pol.init_params(g, scale=0.0), torch.zeros(D))
    # the layout's blocks tile the flat vector exactly once
    covered = torch.zeros(D, dtype=torch.long)
    for block, (sl, shape) in pol.layout.items():
        assert sl.stop - sl.start == math.prod(shape), block
        covered[sl] += 1
    assert bool((covered == 1).all())
    for P, B, dtype in ((1, 1, torch.float32), (3, 2, torch.float64)):
        state = pol.initial_state(P, B, dtype=dtype)
        assert isinstance(state, tuple)
        for s in state:  # the initial state is zero: the reset convention multiplies it away
            assert tuple(s.shape[:2]) == (P, B) and s.dtype == dtype and not bool(s.any())


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_policy_batched_members_equal_each_alone_with_resets(name):
    """``step`` on P×B slots with ``episode_start`` resets = every slot run alone (P = 1,
    B = 1) from a fresh initial state at each of its episode starts; outputs have shape
    (P, B, out_size) and the caller's state is never written in place."""
    pol = build_policy(name)
    T, P, B = 6, 3, 2
    params, obs = random_params(pol, P, 1), random_obs(pol, T, P, B, 2)
    starts = torch.zeros(T, P, B, dtype=torch.bool)
    starts[2, 0, 1] = starts[3, 2, 0] = starts[4, 1, 1] = starts[4, 0, 1] = True
    state = pol.initial_state(P, B, dtype=torch.float64)
    outs = []
    for t in range(T):
        kept = tuple(s.clone() for s in state)
        out, new = pol.step(params, obs[t], state, episode_start=starts[t])
        assert tuple(out.shape) == (P, B, pol.out_size) and out.dtype == torch.float64
        assert all(torch.equal(a, b) for a, b in zip(state, kept)), "state written in place"
        assert len(new) == len(state)
        outs.append(out)
        state = new
    for p in range(P):
        for b in range(B):
            s = pol.initial_state(1, 1, dtype=torch.float64)
            for t in range(T):
                if starts[t, p, b]:
                    s = pol.initial_state(1, 1, dtype=torch.float64)
                ref, s = pol.step(params[p:p + 1], obs[t, p:p + 1, b:b + 1], s)
                torch.testing.assert_close(outs[t][p, b], ref[0, 0], atol=1e-10, rtol=0)
    if len(pol.initial_state(1, 1)):  # a reset must matter for a policy with memory
        cont = pol.initial_state(1, 1, dtype=torch.float64)
        for t in range(3):
            last, cont = pol.step(params[:1], obs[t, :1, :1], cont)
        fresh, _ = pol.step(params[:1], obs[2, :1, :1], pol.initial_state(1, 1, dtype=torch.float64))
        assert not torch.allclose(last, fresh)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_policy_sequence_matches_the_step_loop(name):
    """``sequence`` (RPG's fused replay) gives what ``step`` gives, or declines with None."""
    pol = build_policy(name)
    params, obs = random_params(pol, 1, 3), random_obs(pol, 5, 1, 3, 4)[:, 0]
    fused = pol.sequence(params, obs)
    if fused is None:
        return
    state, loop = pol.initial_state(1, 3, dtype=torch.float64), []
    for t in range(5):
        out, state = pol.step(params, obs[t].unsqueeze(0), state)
        loop.append(out[0])
    torch.testing.assert_close(fused, torch.stack(loop), atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_policy_bptt_gradient_matches_finite_differences(name):
    """P = 1 with a ``params`` row that requires grad, unrolled over a short sequence with a
    mid-sequence reset: autograd (BPTT) = central differences of the same scalar loss."""
    pol = build_policy(name)
    T, B = 4, 2
    theta = random_params(pol, 1, 5)
    obs = random_obs(pol, T, 1, B, 6)
    w = torch.randn(T, 1, B, pol.out_size, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    starts = torch.zeros(T, 1, B, dtype=torch.bool)
    starts[2, 0, 1] = True

    def loss(th):
        state, total = pol.initial_state(1, B, dtype=torch.float64), 0.0
        for t in range(T):
            out, state = pol.step(th, obs[t], state, episode_start=starts[t])
            total = total + (w[t] * torch.tanh(out)).sum()
        return total

    theta.requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(theta), theta)
    theta = theta.detach()
    h = 1e-6
    num = torch.zeros_like(theta)
    for i in range(theta.shape[1]):
        e = torch.zeros_like(theta)
        e[0, i] = h
        num[0, i] = (loss(theta + e) - loss(theta - e)) / (2 * h)
    assert float(num.abs().max()) > 0
    torch.testing.assert_close(grad, num, atol=1e-7, rtol=1e-5)


@pytest.mark.cuda
@pytest.mark.parametrize("name", POLICY_NAMES)
def test_policy_cuda_matches_cpu(name):
    pol = build_policy(name)
    T, P, B = 4, 3, 2
    params, obs = random_params(pol, P, 1), random_obs(pol, T, P, B, 2)
    s_cpu = pol.initial_state(P, B, dtype=torch.float64)
    s_gpu = pol.initial_state(P, B, device="cuda", dtype=torch.float64)
    assert all(s.device.type == "cuda" for s in s_gpu)
    for t in range(T):
        o_cpu, s_cpu = pol.step(params, obs[t], s_cpu)
        o_gpu, s_gpu = pol.step(params.cuda(), obs[t].cuda(), s_gpu)
        assert o_gpu.device.type == "cuda"
        torch.testing.assert_close(o_gpu.cpu(), o_cpu, atol=1e-10, rtol=1e-10)


# ================================================================== searchers ====
#: every searcher is built with its Config defaults but for the population size, on a
#: 7-dimensional problem: that keeps all of them cheap, so they need no spec table
D = 7
POPSIZE = 8


def make_searcher(name, seed=0, center=None):
    cls = ALGORITHMS[name].load()
    center = torch.linspace(-0.5, 0.5, D) if center is None else center
    return cls(center=center, config=cls.Config(popsize=POPSIZE), seed=seed)


def fitness_of(x):
    """A smooth maximisation problem: −‖x − 0.3‖²."""
    return -((x.double() - 0.3) ** 2).sum(-1)


@pytest.mark.parametrize("name", SEARCHER_NAMES)
def test_searcher_ask_shape_center_and_repeated_ask(name):
    s = make_searcher(name)
    assert tuple(s.center.shape) == (D,)
    x = s.ask()
    assert tuple(x.shape) == (s.popsize, D) and s.popsize == POPSIZE
    assert torch.isfinite(x).all()
    assert torch.equal(s.ask(), x)                     # ask twice without tell: same population
    stats = s.tell(fitness_of(x))
    assert isinstance(stats, dict) and "best" in stats and "mean" in stats
    assert tuple(s.center.shape) == (D,)
    assert tuple(s.ask().shape) == (s.popsize, D)


@pytest.mark.parametrize("name", SEARCHER_NAMES)
def test_searcher_tell_raw_fitness_ties_and_nan(name):
    s = make_searcher(name)
    x = s.ask()
    s.tell(1e6 * fitness_of(x))                        # raw, large-scale fitness
    x = s.ask()
    s.tell(torch.zeros(x.shape[0]))                    # all tied
    x = s.ask()
    f = fitness_of(x)
    f[1::2] = f[0]                                     # partial ties
    s.tell(f)
    assert torch.isfinite(s.center).all()
    x = s.ask()
    with pytest.raises(UserError):
        s.tell(torch.zeros(x.shape[0] + 1))           # wrong length
    f = fitness_of(x)
    f[2] = float("nan")                                # ranks worst (tests/test_nonfinite.py)
    stats = s.tell(f)
    assert stats["nonfinite"] == 1 and math.isfinite(stats["best"]) and math.isfinite(stats["mean"])
    assert torch.isfinite(s.center).all()


@pytest.mark.parametrize("name", SEARCHER_NAMES)
def test_searcher_is_deterministic_under_seed(name):
    """Same seed ⇒ the same asks over 3 generations; another seed ⇒ other asks."""
    runs = []
    for seed in (1, 1, 2):
        s = make_searcher(name, seed=seed)
        xs = []
        for _ in range(3):
            x = s.ask()
            xs.append(x.clone())
            s.tell(fitness_of(x))
        runs.append(torch.cat(xs))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


@pytest.mark.parametrize("name", SEARCHER_NAMES)
def test_searcher_resume_is_bit_identical(name):
    """Run 2k generations = run k, checkpoint (weights-only torch file), load into a fresh
    searcher, run k: the same asks, centre and state."""
    k = 2
    a = make_searcher(name, seed=5)
    asks = []
    for _ in range(2 * k):
        x = a.ask()
        asks.append(x.clone())
        a.tell(fitness_of(x))
    b = make_searcher(name, seed=5)
    for _ in range(k):
        b.tell(fitness_of(b.ask()))
    c = make_searcher(name, seed=5)
    c.load_state_dict(roundtrip(b.state_dict()))
    for g in range(k, 2 * k):
        x = c.ask()
        assert torch.equal(x, asks[g]), f"generation {g}"
        c.tell(fitness_of(x))
    assert torch.equal(a.center, c.center)
    assert_same(a.state_dict(), c.state_dict())


@pytest.mark.parametrize("name", SEARCHER_NAMES)
def test_searcher_checkpoint_keeps_pending_population(name):
    """A checkpoint taken between ask() and tell() resumes that same population."""
    a = make_searcher(name, seed=5)
    a.tell(fitness_of(a.ask()))
    xa = a.ask()
    c = make_searcher(name, seed=5)
    c.load_state_dict(roundtrip(a.state_dict()))
    assert torch.equal(c.ask(), xa)


# =================================================================== learners ====
def build_learner(name, run_dir, seed=0):
    """The learner the runner builds (``dps/runner/build.py``) for the entry's small run."""
    cfg = resolve(RunConfig(algo=name, seed=seed, **LEARNER_RUNS.get(name, DEFAULT_LEARNER_RUN)))
    return Run(cfg, run_dir).learner


def learner_steps(learner, n):
    out = []
    for _ in range(n):
        m = learner.step()
        assert {"episodes", "env_steps", "best", "mean"} <= set(m), sorted(m)
        out.append(m)
    return out


@pytest.mark.parametrize("name", LEARNER_NAMES)
def test_learner_is_deterministic_under_seed(name, tmp_path):
    """Same seed ⇒ the same metrics and centre over 3 steps; another seed ⇒ another centre."""
    a, b = build_learner(name, tmp_path), build_learner(name, tmp_path)
    ma, mb = learner_steps(a, 3), learner_steps(b, 3)
    assert ma == mb
    assert tuple(a.center.shape) == (a.policy.num_params,)
    assert torch.equal(a.center, b.center)
    other = build_learner(name, tmp_path, seed=1)
    learner_steps(other, 3)
    assert not torch.equal(a.center, other.center)


@pytest.mark.parametrize("name", LEARNER_NAMES)
def test_learner_resume_is_bit_identical(name, tmp_path):
    """Run 2k steps = run k, checkpoint (weights-only torch file), load into a fresh
    learner, run k: the same metrics, centre and state."""
    k = 2
    a = build_learner(name, tmp_path)
    ma = learner_steps(a, 2 * k)
    b = build_learner(name, tmp_path)
    learner_steps(b, k)
    c = build_learner(name, tmp_path)
    c.load_state_dict(roundtrip(b.state_dict()))
    assert learner_steps(c, k) == ma[k:]
    assert torch.equal(a.center, c.center)
    assert_same(a.state_dict(), c.state_dict())


# ====================================================================== tasks ====
class ZeroModel:
    """The trivial model: predicts 0 everywhere; checks the shapes it is called with."""

    def __init__(self, task):
        self.task, self.calls = task, []

    def drive(self, inputs, resets=None):
        assert inputs.dim() == 3 and inputs.shape[-1] == self.task.in_size
        B, T = inputs.shape[:2]
        assert resets is None or tuple(resets.shape) == (B, T)
        self.calls.append("drive")
        self.state = object()
        return torch.zeros(B, T, self.task.out_size, dtype=torch.float64), self.state

    def generate(self, state, first, steps):
        assert state is self.state, "generate continues from the state drive returned"
        assert first.dim() == 2 and first.shape[-1] == self.task.in_size and steps >= 1
        self.calls.append("generate")
        return torch.zeros(first.shape[0], steps, self.task.out_size, dtype=torch.float64)


def build_task(name):
    return TASKS.build(TASK_SPECS.get(name, name))


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_train_data_and_train_error(name):
    task = build_task(name)
    assert task.in_size >= 1 and task.out_size >= 1
    assert not task.generative or task.in_size == task.out_size   # the output is fed back
    d = task.train_data()
    T = d.length
    assert tuple(d.inputs.shape) == (T, task.in_size) and d.inputs.is_floating_point()
    assert tuple(d.targets.shape) == (T, task.out_size) and d.targets.is_floating_point()
    assert torch.isfinite(d.inputs).all() and torch.isfinite(d.targets).all()
    assert 0 <= d.washout < d.fit_end <= T
    assert not task.generative or d.fit_end < T                  # a closed-loop window to score
    assert d.resets is None or (tuple(d.resets.shape) == (T,) and d.resets.dtype == torch.bool)
    # train_error scores what Evolino predicts (dps/algorithms/evolino.py): the closed-loop
    # window of a generative task, the whole sequence of a driven one; (P,), 0 when exact
    exact = d.targets[d.fit_end:] if task.generative else d.targets
    pred = torch.stack([exact, exact + 0.5])
    err = task.train_error(pred, d)
    assert tuple(err.shape) == (2,) and torch.isfinite(err).all()
    assert float(err[0]) == pytest.approx(0.0, abs=1e-12) and float(err[1]) > 0


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_evaluates_a_trivial_model(name, tmp_path):
    task = build_task(name)
    model = ZeroModel(task)
    result = task.evaluate(model)
    assert isinstance(result, tuple) and len(result) == 2
    metrics, curves = result
    assert metrics and all(isinstance(k, str) for k in metrics)
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in metrics.values())
    assert "drive" in model.calls and ("generate" in model.calls) == task.generative
    n = len(curves["x"])
    assert n >= 1 and len(curves["target"]) == n and len(curves["prediction"]) == n
    save_prediction_plot(curves, tmp_path / "prediction.png")   # what Evolino's final evaluation does
    assert (tmp_path / "prediction.png").stat().st_size > 0


# ------------------------------------------------------------------- helpers ----
def contract_tests(prefix: str):
    """This module's contract tests for one registry (``"env"``, ``"policy"``,
    ``"searcher"``, ``"learner"``, ``"task"``), for ``tests/test_extending.py``."""
    return [f for n, f in sorted(globals().items())
            if n.startswith(f"test_{prefix}_") and callable(f) and "name" in inspect.signature(f).parameters]
