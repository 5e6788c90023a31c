"""Non-finite numbers never pass as success.

* Searchers (``dps/algorithms/base.py``): a NaN/±inf fitness ranks below every finite one;
  a generation with no finite fitness, or an update / a sample that goes non-finite, raises
  :class:`~dps.errors.NonFiniteError` and leaves ``state_dict()`` as it was.
* Envs (``dps/envs/*.py``): a non-finite action or state is a failure on that step.
* Every registered env: an all-NaN parameter vector of its default policy never succeeds,
  through :func:`dps.rollout.rollout` and :func:`dps.evaluation.greedy_evaluation`, and its
  fitness never ranks above a finite policy's.
"""
import math
import warnings

import numpy as np
import pytest
import torch
from statecheck import assert_same, roundtrip

from dps.algorithms import ALGORITHMS
from dps.algorithms.base import CenteredRanks, finite_fitness
from dps.errors import NonFiniteError, UserError

warnings.filterwarnings("ignore", module="evotorch")

NAN, INF = float("nan"), float("inf")
D = 7
POPSIZE = 8
SEARCHERS = sorted(name for name, e in ALGORITHMS.items() if e.kind == "searcher")


def make(name, seed=0, center=None, **config):
    cls = ALGORITHMS[name].load()
    center = torch.linspace(-0.5, 0.5, D) if center is None else center
    return cls(center=center, config=cls.Config(**{"popsize": POPSIZE, **config}), seed=seed)


def fitness_of(x):
    """A smooth maximisation problem: −‖x − 0.3‖²."""
    return -((x.double() - 0.3) ** 2).sum(-1)




# ---------------------------------------------------------------- the fitness rule ----
def test_finite_fitness_rule():
    f = torch.tensor([1.0, 2.0, 3.0])
    clean, bad = finite_fitness(f)
    assert clean is f and bad is None                          # all finite: untouched
    clean, bad = finite_fitness(torch.tensor([1.0, NAN, 3.0, INF, -INF]))
    assert bad.tolist() == [False, True, False, True, True]
    assert clean.tolist() == [1.0, -1.0, 3.0, -1.0, -1.0]      # worst − (best − worst)
    assert finite_fitness(torch.tensor([5.0, NAN]))[0].tolist() == [5.0, 0.0]       # worst − |worst|
    assert finite_fitness(torch.tensor([0.0, NAN]))[0].tolist() == [0.0, -1.0]      # worst − 1
    assert finite_fitness(torch.tensor([-5.0, NAN]))[0].tolist() == [-5.0, -10.0]
    # float32 at a large magnitude: still strictly below
    big = torch.tensor([1e9, 1e9 + 64, NAN], dtype=torch.float32)
    clean, _ = finite_fitness(big)
    assert clean[2] < clean[0] and torch.isfinite(clean).all()
    # worst − range overflows: the next float below
    huge = torch.tensor([-3e38, 3e38, NAN], dtype=torch.float32)
    clean, _ = finite_fitness(huge)
    assert torch.isfinite(clean).all() and clean[2] < clean[0]
    # nothing finite: returned as it is, for the caller to raise
    clean, bad = finite_fitness(torch.tensor([NAN, INF]))
    assert bad.all() and not torch.isfinite(clean).any()


def test_nonfinite_members_get_the_lowest_centered_ranks():
    clean, _ = finite_fitness(torch.tensor([0.3, NAN, -2.0, INF, 7.0, -INF]))
    u = CenteredRanks()(clean)
    assert (u[[1, 3, 5]] < u[[0, 2, 4]].min()).all()           # below every finite member
    assert u[1] == u[3] == u[5]                                 # tied among themselves


# ------------------------------------------------------------------- searchers ----
@pytest.mark.parametrize("name", SEARCHERS)
def test_nonfinite_fitness_ranks_worst(name):
    """NaN, +inf and −inf members are told exactly as the rule's finite value below the worst;
    the best-so-far and the metrics ignore them (+inf is no perfect score)."""
    a, b = make(name, seed=3), make(name, seed=3)
    x = a.ask()
    assert torch.equal(x, b.ask())
    f = fitness_of(x).to(x.dtype)                               # the dtype tell() works in
    f[[1, 4, 6]] = torch.tensor([NAN, INF, -INF], dtype=f.dtype)
    stats = a.tell(f)
    g = f.clone()
    g[[1, 4, 6]] = finite_fitness(f)[0][1]
    b.tell(g)
    assert torch.equal(a.center, b.center) and torch.isfinite(a.center).all()
    finite = f[torch.isfinite(f)]
    assert stats["nonfinite"] == 3
    assert stats["best"] == pytest.approx(float(finite.max())) and stats["mean"] == pytest.approx(float(finite.mean()))
    assert a.best_fitness == pytest.approx(float(finite.max()))
    assert torch.equal(a.best_params, x[int(torch.where(torch.isfinite(f), f, -INF).argmax())])
    assert math.isfinite(a.best_fitness)


#: searchers whose update depends on the ranks of the fitness only
RANK_BASED = {"es": {}, "pgpe": {"variant": "modern"}, "snes": {}, "xnes": {}, "cem": {}, "cmaes": {},
              "pgpe-clipup": {}}


@pytest.mark.parametrize("name", sorted(RANK_BASED))
def test_rank_based_searchers_put_nonfinite_members_last(name):
    """For rank-based updates a NaN member is the same as any value below the worst."""
    kw = RANK_BASED[name]
    a, b = make(name, seed=4, **kw), make(name, seed=4, **kw)
    x = a.ask()
    b.ask()
    f = fitness_of(x)
    g = f.clone()
    f[[2, 5]] = NAN
    g[[2, 5]] = float(f[torch.isfinite(f)].min()) - 1e3
    a.tell(f)
    b.tell(g)
    assert torch.equal(a.center, b.center)
    if name == "cmaes":
        assert a.sigma == b.sigma


ANTITHETIC = {"pgpe": {}, "pgpe-modern": {"variant": "modern"}, "es": {}, "guided-es": {}, "pdes": {},
              "pgpe-clipup": {}}


@pytest.mark.parametrize("key", sorted(ANTITHETIC))
def test_antithetic_step_moves_away_from_a_nan_member(key):
    """One pair μ ± ε with f(μ + ε) = NaN and f(μ − ε) finite: the centre steps towards μ − ε."""
    name = "pgpe" if key.startswith("pgpe-m") else key
    s = make(name, seed=1, center=torch.zeros(D), popsize=2, **ANTITHETIC[key])
    x = s.ask()
    mu = s.center.clone()
    s.tell(torch.tensor([NAN, 0.0]))
    assert float((s.center - mu) @ (x[0] - mu)) < 0


@pytest.mark.parametrize("name", SEARCHERS)
def test_a_generation_without_finite_fitness_raises_and_changes_nothing(name):
    s = make(name, seed=2)
    s.tell(fitness_of(s.ask()))
    x = s.ask()
    before = roundtrip(s.state_dict())
    with pytest.raises(NonFiniteError, match=r"every member of generation 1 is non-finite"):
        s.tell(torch.tensor([NAN, INF, -INF, NAN, NAN, NAN, NAN, NAN]))
    assert_same(roundtrip(s.state_dict()), before)
    assert torch.equal(s.ask(), x)                              # the same population is pending
    s.tell(fitness_of(x))                                       # and can still be told


#: options that make the first update (or sample) overflow float32 / float64
DIVERGE = {
    "pgpe": ("pgpe", {"lr_mu": 1e308}, "the centre"),
    "pgpe-modern": ("pgpe", {"variant": "modern", "lr_mu": 1e308}, "the centre"),
    "pgpe-sigma": ("pgpe", {"lr_sigma": 1e308}, "σ"),
    "es": ("es", {"lr": 1e308}, "the centre"),
    "es-sgd": ("es", {"lr": 1e308, "optimizer": "sgd"}, "the centre"),
    "guided-es": ("guided-es", {"lr": 1e308}, "the centre"),
    "pdes": ("pdes", {"lr": 1e308}, "the centre"),
    "snes": ("snes", {"center_lr": 1e308}, "the centre"),
    "xnes": ("xnes", {"center_lr": 1e308}, "the centre"),
    "pgpe-clipup": ("pgpe-clipup", {"center_lr": 1e308}, "the centre"),
    "cem": ("cem", {"stdev_init": 1e308, "float64": True}, "population"),
    "cmaes": ("cmaes", {"sigma0": 1e308}, "population"),
}


def test_every_searcher_has_a_divergence_case():
    assert {v[0] for v in DIVERGE.values()} == set(SEARCHERS)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # numpy's overflow warnings inside pycma
@pytest.mark.parametrize("key", sorted(DIVERGE))
def test_huge_step_size_raises_and_keeps_the_last_finite_state(key):
    """A learning rate (or σ) so large that the centre (or σ, or the samples) overflows: a
    clear one-line NonFiniteError, raised before the state is kept — ``state_dict()`` after
    the error equals the one before the failing ``tell`` (or ``ask``)."""
    name, config, quantity = DIVERGE[key]
    s = make(name, seed=0, **config)
    cls_name = type(s).__name__
    for generation in range(20):  # noqa: B007 -- read after the loop: the generation that raised
        before = roundtrip(s.state_dict())
        try:
            x = s.ask()
        except NonFiniteError as exc:   # σ so large that the samples (or σ itself) overflow
            err = exc
            break
        before = roundtrip(s.state_dict())
        try:
            s.tell(fitness_of(x))
        except NonFiniteError as exc:
            err = exc
            break
    else:
        pytest.fail(f"{key}: no NonFiniteError in 20 generations; centre {s.center}")
    msg = str(err)
    assert isinstance(err, UserError)
    assert "\n" not in msg and msg.startswith(f"{cls_name}: ") and quantity in msg
    assert f"generation {generation}" in msg and "try a smaller" in msg and "non-finite" in msg
    assert_same(roundtrip(s.state_dict()), before)
    assert torch.isfinite(s.center).all()


def _poison(s):
    """Make the searcher's centre NaN (what a diverging update would do)."""
    name = type(s).__name__
    if name == "CMAES":
        s.es.mean[:] = np.nan
    elif name in ("SNES", "XNES"):
        s.dist = s.dist.modified_copy(mu=torch.full_like(s.dist.mu, NAN))
    elif name == "CEM":
        s.state = s.state._replace(center=torch.full_like(s.state.center, NAN))
    elif name == "EvoPGPE":
        s.state = s.state._replace(optimizer_state=s.state.optimizer_state._replace(
            center=torch.full_like(s.center, NAN)))
    else:
        s.mu = torch.full_like(s.mu, NAN)


@pytest.mark.parametrize("name", SEARCHERS)
def test_a_nonfinite_update_is_undone(name, monkeypatch):
    """Whatever makes the update non-finite, the state before it is restored (also the
    random stream: the next generation is the one an unharmed searcher would ask)."""
    s, twin = make(name, seed=6), make(name, seed=6)
    for _ in range(2):
        s.tell(fitness_of(s.ask()))
        twin.tell(fitness_of(twin.ask()))
    x = s.ask()
    twin.ask()
    before = roundtrip(s.state_dict())
    real = type(s)._tell

    def poisoned(self, fitness):
        stats = real(self, fitness)
        _poison(self)
        return stats

    monkeypatch.setattr(type(s), "_tell", poisoned)
    with pytest.raises(NonFiniteError, match=r"update of generation 2 made the centre non-finite \(nan"):
        s.tell(fitness_of(x))
    monkeypatch.undo()
    assert_same(roundtrip(s.state_dict()), before)
    s.tell(fitness_of(x))
    twin.tell(fitness_of(x))
    assert torch.equal(s.ask(), twin.ask())
    assert torch.equal(s.center, twin.center)


@pytest.mark.parametrize("name", SEARCHERS)
def test_a_nonfinite_initial_centre_is_refused_at_ask(name):
    s = make(name, center=torch.full((D,), NAN))
    with pytest.raises(NonFiniteError, match="the centre is non-finite at generation 0"):
        s.ask()


def test_pgpe_nan_sigma_init_is_refused_at_ask():
    s = make("pgpe", sigma_init=NAN)
    with pytest.raises(NonFiniteError, match="PGPE: σ is non-finite at generation 0"):
        s.ask()


def test_a_diverging_run_keeps_its_last_finite_learner_state():
    """The runner's path (SearchLearner on a cart-pole rollout problem): the failing step
    raises the UserError subclass the CLI prints, and the learner's state — what the runner
    checkpoints — is the last finite one."""
    from dps.algorithms.learner import SearchLearner
    from dps.algorithms.pgpe import PGPE, PGPEConfig
    from dps.envs.cartpole import CartPole
    from dps.evaluation import RolloutProblem
    from dps.policies import make_policy

    env = CartPole(max_steps=50)
    pol = make_policy("lstm:hidden=2", env.observation_shape, env.action_space.out_size)
    center = pol.init_params(torch.Generator().manual_seed(0))
    searcher = PGPE(center, PGPEConfig(popsize=4, variant="modern", lr_mu=0.1), seed=0)
    learner = SearchLearner(searcher, RolloutProblem(pol, env, episodes=1), seed=0)
    learner.step()
    searcher.opt.lr = 1e308                                     # the next step overflows
    searcher.ask()                                              # (the step's ask: this population)
    before = roundtrip(learner.state_dict())
    with pytest.raises(NonFiniteError, match="PGPE: the update of generation 1 made the centre"):
        learner.step()
    assert_same(roundtrip(learner.state_dict()), before)
    assert torch.isfinite(learner.center).all()


# ---------------------------------------------------------- envs, step by step ----
def test_cartpole_nonfinite_action_or_state_fails_on_that_step():
    from dps.envs.cartpole import CartPole

    for integrator, fitness in (("rk4", "steps"), ("rk4", "damping"), ("gym", "steps")):
        env = CartPole(poles=1, integrator=integrator, fitness=fitness, max_steps=200)
        ref = CartPole(poles=1, integrator=integrator, fitness=fitness, max_steps=200)
        start = torch.zeros(1, 5, 4, dtype=torch.float64)
        start[..., 2] = 1e-6                                    # θ: falls slowly enough
        env.reset_to(start)
        ref.reset_to(start)
        a = torch.zeros(1, 5)
        total = torch.zeros(1, 5, dtype=torch.float64)
        for _ in range(120):                                    # past the damping's first 100 steps
            total += env.step(a)[1]
            ref.step(a)
        bad = torch.tensor([[0.0, NAN, INF, -INF, 0.0]])
        obs, reward, done, info = env.step(bad)
        robs, rreward, _, _ = ref.step(a)
        total += reward
        assert done[0].tolist() == [False, True, True, True, False]
        assert not info["success"].any() and torch.isfinite(reward).all()
        # the others are untouched, bit for bit
        assert torch.equal(obs[0, [0, 4]], robs[0, [0, 4]]) and torch.equal(reward[0, [0, 4]], rreward[0, [0, 4]])
        if fitness == "steps":
            assert reward[0].tolist() == [1.0] * 5                # the failing step's reward
        else:                                                   # J = ∞: no damping credit
            assert total[0, 1:4].tolist() == pytest.approx([0.1 * 121 / 1000] * 3)
            assert (total[0, [0, 4]] > 1.0).all()
        obs, reward, done, _ = env.step(a)
        assert reward[0, 1:4].tolist() == [0.0] * 3 and done[0, 1:4].all()  # none after
        assert env.failed(torch.tensor([[NAN, 0, 0, 0], [0, 0, 0, INF], [0.0, 0, 0, 0]])).tolist() == \
            [True, True, False]


def test_cartpole_nonfinite_start_fails_on_the_first_step_and_discrete_float_actions():
    from dps.envs.cartpole import CartPole

    env = CartPole(poles=2)
    s = torch.zeros(1, 2, 6, dtype=torch.float64)
    s[0, 0, 3] = NAN
    env.reset_to(s)
    _, _, done, info = env.step(torch.zeros(1, 2, 1))
    assert done[0].tolist() == [True, False] and not info["success"].any()
    env = CartPole(discrete=True)
    env.reset_to(torch.zeros(1, 2, 4, dtype=torch.float64))
    _, _, done, _ = env.step(torch.tensor([[NAN, 1.0]]))
    assert done[0].tolist() == [True, False]


def test_cartpole_fast_fails_where_the_torch_env_fails():
    from dps.envs.cartpole import CartPole
    from dps.envs.cartpole_fast import linear_balance_steps
    from dps.policies import LinearPolicy
    from dps.seeding import make_generator

    weights = [[NAN] * 7, [INF] * 7, [0.0, 0.0, INF, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, -INF, 0.0, 0.0, 0.0, 0.0],
               [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN]]
    env = CartPole(poles=2, max_steps=400)
    pol = LinearPolicy(env.observation_shape, 1)
    X = torch.tensor(weights, dtype=torch.float32)
    obs = env.reset(len(weights), 1, make_generator(0, "cpu"))
    lengths = torch.zeros(len(weights), dtype=torch.long)
    for _ in range(400):
        out, _ = pol.step(X, obs)
        obs, _, done, _ = env.step(torch.tanh(out))
        lengths += (~done[:, 0]).long()
        if bool(done.all()):
            break
    ref = torch.where(lengths < 400, lengths + 1, lengths).tolist()
    fast = [linear_balance_steps(w, poles=2, velocities=True, max_steps=400) for w in weights]
    assert fast == ref
    assert fast[0] == fast[1] == fast[4] == 1                   # NaN (and inf·0) fail at once


def test_tmaze_catch_classquery_float_nonfinite_actions_are_failures():
    from dps.envs.catch import Catch
    from dps.envs.memory import ClassQuery
    from dps.envs.tmaze import TMaze
    from dps.seeding import make_generator

    env = TMaze(length=3)
    env.reset(1, 3, make_generator(0, "cpu"))
    _, reward, done, info = env.step(torch.tensor([[1.0, NAN, INF]]))
    assert done[0].tolist() == [False, True, True] and not info["success"].any()
    assert reward[0].tolist() == pytest.approx([0.0, -0.1, -0.1])
    _, reward, done, _ = env.step(torch.tensor([[1.0, 1.0, 1.0]]))
    assert reward[0, 1:].tolist() == [0.0, 0.0] and done[0, 1:].all()

    env = Catch(rows=4, columns=3)
    env.reset(1, 3, make_generator(0, "cpu"))
    _, reward, done, info = env.step(torch.tensor([[1.0, NAN, -INF]]))
    assert done[0].tolist() == [False, True, True] and reward[0].tolist() == [0.0, -1.0, -1.0]
    assert not info["success"].any()

    env = ClassQuery(length=3)
    env.reset(1, 4, make_generator(0, "cpu"))
    _, reward, done, info = env.step(torch.tensor([[0.0, NAN, 0.0, 0.0]]))
    assert done[0].tolist() == [False, True, False, False] and reward[0].tolist() == [0.0, -1.0, 0.0, 0.0]
    env.step(torch.zeros(1, 4))
    cls = env.cls.clone()
    answer = torch.where(cls > 0, 1.0, 0.0)                     # right answers, but NaN in slot 2
    answer[0, 2] = NAN
    _, reward, done, info = env.step(answer)
    assert done.all() and info["success"][0].tolist() == [True, False, False, True]
    assert reward[0].tolist() == [1.0, 0.0, -1.0, 1.0]


def test_gym_box_nonfinite_action_never_reaches_gymnasium():
    pytest.importorskip("gymnasium")
    from dps.envs.gymnasium import GymEnv
    from dps.seeding import make_generator

    env, ref = GymEnv("Pendulum-v1", max_steps=5), GymEnv("Pendulum-v1", max_steps=5)
    env.reset(1, 3, make_generator(0, "cpu"))
    ref.reset(1, 3, make_generator(0, "cpu"))
    inner = env._envs[1].unwrapped
    state = np.array(inner.state, copy=True)
    calls = []
    real_step = env._envs[1].step
    env._envs[1].step = lambda a: calls.append(a) or real_step(a)
    obs, reward, done, _ = env.step(torch.tensor([[[0.5]], [[NAN]], [[0.5]]]).reshape(1, 3, 1))
    robs, rreward, _, _ = ref.step(torch.full((1, 3, 1), 0.5))
    assert calls == [] and np.array_equal(inner.state, state)   # slot 1 was not stepped
    assert done[0].tolist() == [False, True, False] and math.isnan(float(reward[0, 1]))
    assert (obs[0, 1] == 0).all() and torch.equal(obs[0, [0, 2]], robs[0, [0, 2]])
    assert torch.equal(reward[0, [0, 2]], rreward[0, [0, 2]])
    obs, reward, done, _ = env.step(torch.full((1, 3, 1), INF))
    assert done.all() and torch.isnan(reward[0, [0, 2]]).all() and reward[0, 1] == 0


def test_gym_nonfinite_observation_ends_the_slot():
    pytest.importorskip("gymnasium")
    from dps.envs.gymnasium import GymEnv
    from dps.seeding import make_generator

    env = GymEnv("CartPole-v1", max_steps=20)
    env.reset(1, 3, make_generator(0, "cpu"))
    env._envs[0].step = lambda a: (np.full(4, np.nan, dtype=np.float32), 1.0, False, False, {})
    obs, reward, done, info = env.step(torch.tensor([[1, 1, 1]]))
    assert done[0].tolist() == [True, False, False] and not info["success"].any()
    assert math.isnan(float(reward[0, 0])) and reward[0, 1:].tolist() == [1.0, 1.0]
    assert torch.isfinite(obs).all()
    _, _, done, _ = env.step(torch.tensor([[1.0, NAN, 1.0]]))   # a float NaN index
    assert done[0].tolist() == [True, True, False]
    # a non-finite observation at reset: the slot fails on its first step, unstepped
    env = GymEnv("CartPole-v1", max_steps=20)
    env.reset(1, 1, make_generator(0, "cpu"))
    real_reset = env._envs[0].reset
    env._envs[0].reset = lambda seed=None: (np.full(4, np.inf, dtype=np.float32), real_reset(seed=seed)[1])
    obs = env.reset(1, 2, make_generator(0, "cpu"))
    assert torch.isfinite(obs).all()
    _, reward, done, _ = env.step(torch.tensor([[1, 1]]))
    assert done[0].tolist() == [True, False] and math.isnan(float(reward[0, 0]))


# --------------------------------------------- every registered env, NaN policy ----
#: env specs (default options where none are given); every registry name must appear
ENV_CASES = [
    "tmaze",
    "cartpole",
    "cartpole:velocities=false",
    "cartpole:poles=2",
    "cartpole:poles=2,velocities=false",
    "class-query",
    "catch",
    "gym:CartPole-v1",
    "gym:Pendulum-v1",
    "atari-go",
]
#: specs whose actions are discrete: a NaN policy output is the rollout engine's to handle
#: (dps/rollout.py); those cases that fail without it are marked below
DISCRETE = {"tmaze", "class-query", "catch", "gym:CartPole-v1", "atari-go"}
#: the best return of an env without a success notion (Pendulum's rewards are <= 0)
BEST_RETURN = {"gym:Pendulum-v1": 0.0}


def test_env_cases_cover_the_registry():
    from dps.envs.registry import ENVS

    assert {spec.split(":")[0] for spec in ENV_CASES} == set(ENVS)


def _default_policy_spec(spec: str) -> str:
    """The policy a run on ``spec`` gets by default."""
    name = spec.split(":")[0]
    try:  # the runner's table of tuned settings (dps/runner/defaults.py)
        from dps.envs.registry import ENVS
        from dps.runner.defaults import tuned
        return tuned("pgpe", name, ENVS.options(spec))[0]["policy"]
    except ImportError:  # a tree where the env registry entries carry the run defaults
        from dps.envs.registry import env_options, get_env_entry
        entry = get_env_entry(name)
        defaults = dict(entry.defaults)
        if entry.scale_defaults is not None:
            defaults.update(entry.scale_defaults(env_options(spec)))
        return defaults["policy"]


def _env_and_policy(spec):
    from dps.envs.registry import make_env
    from dps.policies import make_policy

    if spec.startswith("gym:"):
        pytest.importorskip("gymnasium")
    env = make_env(spec)
    return env, make_policy(_default_policy_spec(spec), env.observation_shape, env.action_space.out_size)


def _assert_no_success(spec, env, returns, success):
    if env.has_success:
        assert success is not None and not bool(success.any()), f"{spec}: a NaN policy succeeded"
    else:
        best = BEST_RETURN[spec]
        assert not bool((returns >= best).any()), f"{spec}: a NaN policy reached the best return"


@pytest.mark.parametrize("spec", ENV_CASES)
def test_nan_policy_rollout_never_succeeds(spec):
    from dps.rollout import rollout

    env, pol = _env_and_policy(spec)
    params = torch.full((2, pol.num_params), NAN)
    res = rollout(pol, env, params, episodes=4, seed=0)
    _assert_no_success(spec, env, res.returns, res.success)
    env.close()


@pytest.mark.parametrize("spec", ENV_CASES)
def test_nan_policy_greedy_evaluation_never_succeeds(spec):
    from dps.evaluation import greedy_evaluation

    env, pol = _env_and_policy(spec)
    out = greedy_evaluation(pol, env, torch.full((pol.num_params,), NAN), episodes=4, seed=0)
    if env.has_success:
        assert out["success_rate"] == 0.0, out
    else:
        assert not out["mean_return"] >= BEST_RETURN[spec], out
    assert out.get("generalization", 0) == 0, out               # cart-pole's 625-start check
    env.close()


@pytest.mark.parametrize("spec", ENV_CASES)
def test_nan_policy_never_ranks_above_a_finite_policy(spec):
    """The NaN member's fitness, after the searchers' rule (dps/algorithms/base.py), is at
    most that of every finite member (random initial parameters of the default policy)."""
    from dps.evaluation import RolloutProblem

    env, pol = _env_and_policy(spec)
    g = torch.Generator().manual_seed(0)
    params = torch.stack([torch.full((pol.num_params,), NAN)] + [pol.init_params(g) for _ in range(5)])
    fitness, _ = RolloutProblem(pol, env, episodes=4).fitness(params, seed=0)
    clean, _ = finite_fitness(fitness)
    assert torch.isfinite(fitness[1:]).all()
    assert float(clean[0]) <= float(clean[1:].min()), fitness.tolist()
    env.close()


def test_pgpe_nan_fitness_ranks_worst_and_all_nan_is_a_clear_error():
    """(Formerly tests/test_runner.py's "NaN fitness is a clear error": one NaN member is now
    ranked worst; a generation of NaN only is the clear error.)"""
    from dps.algorithms.pgpe import PGPE
    s = PGPE(torch.zeros(3))
    s.ask()
    stats = s.tell(torch.tensor([0.0, 1.0, NAN] + [0.0] * 17))
    assert stats["nonfinite"] == 1 and stats["best"] == 1.0
    s.ask()
    with pytest.raises(UserError, match=r"PGPE: the fitness of every member of generation 1 is non-finite \(nan"):
        s.tell(torch.full((20,), NAN))
