"""Estimator correctness of recurrent policy gradients (Wierstra et al. 2010, eq. 8) and of
SDE's likelihood (Rückstieß et al. 2008), against exact enumeration / closed forms."""
import math

import pytest
import torch

from dps.algorithms.rpg import RPG, Config
from dps.algorithms.rpg_baselines import bootstrap_returns, returns_to_go, time_baseline
from dps.algorithms.sde import draw_theta, sde_action, sde_log_prob
from dps.envs.base import BatchedEnv, Box, Discrete
from dps.policies import LSTMPolicy, MLPPolicy


class TinyPOMDP(BatchedEnv):
    """A 1–3 step POMDP whose trajectories can all be enumerated (γ = 1).

    cue c ∈ {0, 1} (p = ½) seen only at t = 0: obs_0 = [2c−1, 1, 0], obs_t = [0, 0, t].
    t=0: r = 0.2·a, ends if a = 1 and c = 1.   t=1: r = 1 if a = c else −0.5, ends if a = 0.
    t=2: r = 0.3·a + 0.1, ends.  (The optimal choice at t=1 needs the remembered cue.)
    """

    observation_shape = (3,)
    action_space = Discrete(2)
    max_steps = 3
    gamma = 1.0

    def __init__(self, offset: float = 0.0):
        super().__init__("cpu")
        self.offset = offset  # added to every reward

    def _obs(self):
        P, B = self.c.shape
        if self.t == 0:
            return torch.stack([2.0 * self.c - 1, torch.ones(P, B), torch.zeros(P, B)], -1)
        return torch.stack([torch.zeros(P, B), torch.zeros(P, B), torch.full((P, B), float(self.t))], -1)

    def reset(self, P, B, generator):
        return self.reset_to(torch.randint(0, 2, (P, B), generator=generator).float())

    def reset_to(self, c):
        self.c, self.t = c, 0
        return self._obs()

    def step(self, action):
        a = action.float()
        if self.t == 0:
            r, done = 0.2 * a, (a == 1) & (self.c == 1)
        elif self.t == 1:
            r, done = torch.where(a == self.c, 1.0, -0.5), a == 0
        else:
            r, done = 0.3 * a + 0.1, torch.ones_like(a, dtype=torch.bool)
        self.t += 1
        return self._obs(), r + self.offset, done, {}


def exact_gradient(policy, theta):
    """∇θ E[Σ_t r_t] by enumerating (c, a_0, a_1, a_2): unused actions after the end count
    with probability ½ each, so the 16 rows' weights sum to 1."""
    combos = torch.tensor([[c, a0, a1, a2] for c in (0, 1) for a0 in (0, 1) for a1 in (0, 1) for a2 in (0, 1)])
    env = TinyPOMDP()
    theta = theta.detach().clone().requires_grad_(True)
    params = theta.unsqueeze(0)
    obs = env.reset_to(combos[:, 0].float().unsqueeze(0))
    state = policy.initial_state(1, 16)
    alive = torch.ones(16, dtype=torch.bool)
    logw = torch.full((16,), math.log(0.5))
    ret = torch.zeros(16)
    for t in range(3):
        out, state = policy.step(params, obs, state)
        a = combos[:, 1 + t]
        logp = torch.log_softmax(out[0], -1).gather(-1, a[:, None])[:, 0]
        logw = logw + torch.where(alive, logp, torch.full_like(logp, math.log(0.5)))
        obs, r, done, _ = env.step(a.unsqueeze(0))
        ret = ret + r[0] * alive
        alive = alive & ~done[0]
    assert torch.allclose(logw.exp().sum(), torch.tensor(1.0), atol=1e-5)
    J = (logw.exp() * ret).sum()
    (g,) = torch.autograd.grad(J, theta)
    return g


def make_learner(baseline, offset=0.0, **kw):
    env = TinyPOMDP(offset)
    policy = LSTMPolicy(3, 2, hidden=3)
    cfg = Config(episodes=32, baseline=baseline, normalize=False, gamma=1.0, out_init=1.0,
                 value_hidden=4, **kw)
    return RPG(policy, env, cfg, seed=7), policy


@pytest.mark.parametrize("baseline", ["none", "moving", "time", "value"])
def test_estimator_is_unbiased(baseline):
    learner, policy = make_learner(baseline)
    if baseline == "moving":
        learner.moving = torch.tensor(0.8)  # a baseline from earlier batches
    exact = exact_gradient(policy, learner.theta)
    N = 250
    gs = torch.stack([learner.policy_gradient(seed)[0] for seed in range(N)])
    mean, se = gs.mean(0), gs.std(0) / math.sqrt(N)
    assert exact.norm() > 3 * se.norm()           # the test has power: the signal is well above the noise
    z = (mean - exact).abs() / (se + 1e-7)
    assert float(z.max()) < 4.5, f"max z-score {float(z.max()):.2f}"


def test_time_baseline_removes_reward_offset_variance():
    """With every reward shifted by +2 the raw estimator's variance grows with the offset;
    the leave-one-out time baseline cancels it."""
    var = {}
    for b in ("none", "time"):
        learner, _ = make_learner(b, offset=2.0)
        gs = torch.stack([learner.policy_gradient(seed)[0] for seed in range(100)])
        var[b] = float(gs.var(0).sum())
    assert var["time"] < 0.3 * var["none"]


def test_bootstrap_with_long_horizon_equals_value_baseline():
    lv, _ = make_learner("value")
    lb, _ = make_learner("bootstrap", bootstrap_k=3)
    for seed in range(3):
        assert torch.allclose(lv.policy_gradient(seed)[0], lb.policy_gradient(seed)[0])


def test_returns_and_baselines_by_hand():
    r = torch.tensor([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]])
    alive = torch.tensor([[True, True], [True, True], [True, False]])
    R = returns_to_go(r, 0.5)
    assert torch.allclose(R[:, 0], torch.tensor([1 + 0 + 0.75, 0 + 1.5, 3.0]))
    assert torch.allclose(R[:, 1], torch.tensor([2.5, 1.0, 0.0]))
    b = time_baseline(R, alive)
    assert torch.allclose(b[0], torch.tensor([R[0, 1], R[0, 0]]))   # leave-one-out
    assert float(b[2, 0]) == 0.0                                      # nobody else alive at t=2
    V = torch.tensor([[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]])
    R1 = bootstrap_returns(R, alive, V, 0.5, 1)
    assert torch.allclose(R1[0], r[0] + 0.5 * V[1])
    assert torch.allclose(R1[1], torch.tensor([0 + 0.5 * 30.0, 1.0]))  # slot 1 ended: no V after it
    assert torch.allclose(R1[2], r[2])


# ------------------------------------------------------------------------ SDE ----
def test_sde_log_likelihood_closed_form_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    F, A = 3, 2
    feats = torch.tensor([[0.5, -1.0, 2.0]])
    out = torch.tensor([[0.3, -0.2]])
    log_sigma = torch.tensor([[-1.0, 0.0], [-0.5, -2.0], [0.2, -1.0]], requires_grad=True)
    N = 200_000
    theta_hat = draw_theta(log_sigma, N, g)                            # (N, F, A)
    u = sde_action(out.expand(N, A), feats.expand(N, F), theta_hat)    # (N, A)
    var = (feats.T ** 2 * (2 * log_sigma.detach()).exp()).sum(0)       # Σ_i s_i² σ_ij²
    assert torch.allclose(u.mean(0), out[0], atol=4 * (var / N).sqrt().max())
    assert torch.allclose(u.var(0), var, rtol=0.02)
    x = torch.tensor([[0.7, -1.1]])
    lp = sde_log_prob(x, out, feats, log_sigma)
    ref = torch.distributions.Normal(out, var.sqrt()).log_prob(x).sum()
    assert torch.allclose(lp, ref, atol=1e-5)
    (grad,) = torch.autograd.grad(lp.sum(), log_sigma)
    z2 = (x - out) ** 2 / var                                          # d/d log σ_ij
    expected = (z2 - 1) * feats.T ** 2 * (2 * log_sigma.detach()).exp() / var
    assert torch.allclose(grad, expected, atol=1e-5)
    # Monte-Carlo: the histogram of u_0 matches the marginal density
    lo, hi = float(out[0, 0]) - 0.2, float(out[0, 0]) + 0.2
    frac = float(((u[:, 0] > lo) & (u[:, 0] < hi)).float().mean())
    normal = torch.distributions.Normal(out[0, 0], var[0].sqrt())
    assert abs(frac - float(normal.cdf(torch.tensor(hi)) - normal.cdf(torch.tensor(lo)))) < 0.01


class ConstBox(BatchedEnv):
    """Constant observation [1, c]; a Box(1) action; reward −(a − c/2)²; 4 steps."""

    observation_shape = (2,)
    action_space = Box.uniform(1, -1.0, 1.0)
    max_steps = 4
    gamma = 1.0

    def reset(self, P, B, generator):
        self.c = torch.randint(0, 2, (P, B), generator=generator).float() * 2 - 1
        return torch.stack([torch.ones(P, B), self.c], -1)

    def step(self, action):
        r = -(action[..., 0] - self.c / 2) ** 2
        return torch.stack([torch.ones_like(self.c), self.c], -1), r, torch.zeros_like(r, dtype=torch.bool), {}


def test_sde_same_features_same_action_within_episode():
    policy = MLPPolicy(2, 1, hidden=(4,))
    learner = RPG(policy, ConstBox(), Config(episodes=6, sde=True, init_log_std=0.0), seed=1)
    batch = learner.collect(5)
    u = batch.actions[..., 0]                                           # (T, M)
    assert torch.allclose(u, u[0].expand_as(u))                         # same state ⇒ same action
    assert float(u[0].std()) > 1e-3                                     # but it does explore across episodes
    logp, _ = learner.log_probs(batch.obs, batch.actions)
    assert torch.isfinite(logp).all()
    learner.step()
    assert learner.log_sigma.grad is not None and float(learner.log_sigma.grad.abs().sum()) > 0
