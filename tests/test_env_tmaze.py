"""Bakker's T-maze (dps/envs/tmaze.py): hand-worked transitions, determinism, masking,
a rollout with an LSTM policy, options, and CPU vs CUDA."""
import pytest
import torch

from dps.envs.base import Discrete
from dps.envs.registry import make_env
from dps.envs.tmaze import EAST, NORTH, SOUTH, WEST, TMaze
from dps.errors import UserError
from dps.policies import LSTMPolicy
from dps.rollout import make_generator, rollout

START_N, START_S, CORRIDOR, JUNCTION = [0, 1, 1], [1, 1, 0], [1, 0, 1], [0, 1, 0]


def _reset_with_goals(env, goals):
    """Reset a (1, len(goals)) batch and force the goal arms (0 = north, 1 = south)."""
    env.reset(1, len(goals), make_generator(0, env.device))
    env.goal = torch.tensor([goals], device=env.device)
    return env._obs()


def _act(env, *actions):
    return env.step(torch.tensor([list(actions)], device=env.device))


@pytest.mark.parametrize("N", [1, 3, 10])
def test_optimal_path_both_arms(N):
    env = TMaze(length=N)
    obs = _reset_with_goals(env, [0, 1])
    assert obs[0, 0].tolist() == START_N and obs[0, 1].tolist() == START_S
    total = torch.zeros(2)
    for k in range(N):
        obs, r, done, info = _act(env, EAST, EAST)
        total += r[0]
        assert not done.any()
        expect = JUNCTION if k == N - 1 else CORRIDOR
        assert obs[0, 0].tolist() == expect and obs[0, 1].tolist() == expect
    obs, r, done, info = _act(env, NORTH, SOUTH)
    total += r[0]
    assert done.all() and info["success"].all()
    assert total.tolist() == [4.0, 4.0]
    assert env.t == N + 1


def test_wrong_arm_and_wall_bumps():
    env = TMaze(length=2)
    _reset_with_goals(env, [0, 0, 0, 0])
    # slot 0: W at start (bump); slot 1: N at start (bump); slot 2: S at start (bump);
    # slot 3: E (move)
    obs, r, done, info = _act(env, WEST, NORTH, SOUTH, EAST)
    assert torch.allclose(r[0], torch.tensor([-0.1, -0.1, -0.1, 0.0]))
    assert env.pos[0].tolist() == [0, 0, 0, 1]
    assert obs[0, 0].tolist() == START_N and obs[0, 3].tolist() == CORRIDOR
    # slot 3 in the corridor: N is a bump; others move east
    obs, r, done, info = _act(env, EAST, EAST, EAST, NORTH)
    assert torch.allclose(r[0], torch.tensor([0.0, 0.0, 0.0, -0.1]))
    assert env.pos[0].tolist() == [1, 1, 1, 1]
    obs, r, done, info = _act(env, EAST, EAST, EAST, EAST)
    assert env.pos[0].tolist() == [2, 2, 2, 2] and obs[0, 0].tolist() == JUNCTION
    # at the junction: E bumps, S is the wrong arm, N the right one, W goes back
    obs, r, done, info = _act(env, EAST, SOUTH, NORTH, WEST)
    assert torch.allclose(r[0], torch.tensor([-0.1, -0.1, 4.0, 0.0]))
    assert done[0].tolist() == [False, True, True, False]
    assert info["success"][0].tolist() == [False, False, True, False]
    assert env.pos[0].tolist() == [2, 2, 2, 1]


def test_walking_back_to_start_shows_goal_again():
    env = TMaze(length=3)
    _reset_with_goals(env, [1])
    _act(env, EAST)
    obs, *_ = _act(env, WEST)
    assert obs[0, 0].tolist() == START_S


def test_time_limit_default_and_done_slots_frozen():
    N = 4
    env = TMaze(length=N)
    assert env.max_steps == 4 * N + 20
    _reset_with_goals(env, [0, 1])
    # slot 0 finishes in N+1 steps; slot 1 walks into the west wall until the limit
    for t in range(env.max_steps):
        a0 = EAST if t < N else (NORTH if t == N else 7)  # an out-of-range action on a done slot
        obs, r, done, info = _act(env, a0, WEST)
        if t > N:
            assert done[0, 0] and r[0, 0] == 0 and not info["success"][0, 0]
            assert env.pos[0, 0] == N  # frozen
        if t < env.max_steps - 1:
            assert not done[0, 1] and r[0, 1] == pytest.approx(-0.1)
    assert done[0, 1] and not info["success"][0, 1]
    assert TMaze(length=5, max_steps=7).max_steps == 7


def test_goal_draw_is_deterministic_and_balanced():
    env = TMaze(length=5, balanced=False)
    a = env.reset(4, 64, make_generator(3, "cpu"))
    b = env.reset(4, 64, make_generator(3, "cpu"))
    c = env.reset(4, 64, make_generator(4, "cpu"))
    assert torch.equal(a, b) and not torch.equal(a, c)
    frac = (env.goal == 0).float().mean().item()
    assert 0.35 < frac < 0.65


def test_same_seed_same_rollout_and_lstm_runs():
    env = make_env("tmaze:length=6")
    pol = LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=4)
    g = torch.Generator().manual_seed(0)
    params = torch.stack([pol.init_params(g, scale=3.0) for _ in range(5)])
    r1 = rollout(pol, env, params, episodes=7, seed=11, record=True)
    r2 = rollout(pol, env, params, episodes=7, seed=11, record=True)
    assert r1.returns.shape == (5, 7)
    assert torch.equal(r1.returns, r2.returns) and torch.equal(r1.lengths, r2.lengths)
    assert torch.equal(r1.success, r2.success)
    assert (r1.lengths >= 1).all() and (r1.lengths <= env.max_steps).all()
    # a return of 4 minus bumps is only possible with success
    assert ((r1.returns > 0) == r1.success).all()


def test_options_and_errors():
    env = make_env("tmaze:length=20,max_steps=50")
    assert env.length == 20 and env.max_steps == 50
    assert env.action_space == Discrete(4) and env.observation_size == 3
    for bad in ["tmaze:length=0", "tmaze:length=-3", "tmaze:max_steps=0"]:
        with pytest.raises(UserError, match="accepted"):
            make_env(bad)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_trajectories_agree():
    P, B, T = 3, 16, 30
    envs = [TMaze(length=5, device="cpu"), TMaze(length=5, device="cuda")]
    envs[0].reset(P, B, make_generator(0, "cpu"))
    envs[1].reset(P, B, make_generator(0, "cuda"))
    envs[1].goal = envs[0].goal.cuda()
    actions = torch.randint(0, 4, (T, P, B), generator=torch.Generator().manual_seed(1))
    for t in range(T):
        out = [e.step(actions[t].to(e.device)) for e in envs]
        for a, b in zip(out[0][:3], out[1][:3]):
            assert torch.equal(a, b.cpu())
        assert torch.equal(out[0][3]["success"], out[1][3]["success"].cpu())


def test_balanced_goals_alternate_per_member():
    from dps.envs.tmaze import TMaze
    env = TMaze(length=3)
    env.reset(5, 6, torch.Generator().manual_seed(0))
    assert torch.equal(env.goal.sum(1), torch.full((5,), 3))
    assert torch.all(env.goal[:, 1:] != env.goal[:, :-1])
    firsts = set()
    for s in range(20):
        env.reset(1, 2, torch.Generator().manual_seed(s))
        firsts.add(int(env.goal[0, 0]))
    assert firsts == {0, 1}
    env = TMaze(length=3, balanced=False)
    env.reset(50, 6, torch.Generator().manual_seed(0))
    assert not torch.equal(env.goal.sum(1), torch.full((50,), 3))


class _RulesTMaze:
    """The T-maze rules written out as comparisons (the table-driven ``TMaze.step`` must
    match it on every slot and step)."""

    def __init__(self, N, max_steps, pos, goal):
        self.N, self.max_steps, self.pos, self.goal = N, max_steps, pos.clone(), goal.clone()
        self.over = torch.zeros_like(pos, dtype=torch.bool)
        self.t = 0

    def obs(self):
        codes = torch.tensor([START_N, START_S, CORRIDOR, JUNCTION], dtype=torch.float32)
        row = torch.where(self.pos == 0, self.goal, torch.where(self.pos == self.N, 3, 2))
        return codes[row]

    def step(self, a):
        N, live = self.N, ~self.over
        east = (a == EAST) & (self.pos < N)
        west = (a == WEST) & (self.pos > 0)
        enter = ((a == NORTH) | (a == SOUTH)) & (self.pos == N)
        correct = enter & (((a == NORTH) & (self.goal == 0)) | ((a == SOUTH) & (self.goal == 1)))
        bump = ~(east | west | enter) & (a >= 0) & (a <= 3)
        self.pos = torch.where(live, self.pos + east.long() - west.long(), self.pos)
        reward = torch.where(correct, 4.0, torch.where(bump | (enter & ~correct), -0.1, 0.0))
        reward = torch.where(live, reward, 0.0)
        self.t += 1
        done = self.over | enter | (self.t >= self.max_steps)
        self.over = done
        return self.obs(), reward, done, correct & live


@pytest.mark.parametrize("N,max_steps", [(1, 9), (2, 12), (5, 40), (12, 30)])
def test_table_step_matches_the_rules(N, max_steps):
    """Random walks (actions biased east, some out of range on live slots) step by step
    against the rules, with a row selection halfway."""
    P, B = 6, 40
    env = TMaze(length=N, max_steps=max_steps)
    env.reset(P, B, make_generator(5, "cpu"))
    ref = _RulesTMaze(N, max_steps, env.pos, env.goal)
    g = torch.Generator().manual_seed(N)
    probs = torch.tensor([0.2, 0.4, 0.2, 0.15, 0.05])  # N, E, S, W, "out of range"
    wins = wrong = 0
    for t in range(max_steps):
        a = torch.multinomial(probs, P * B, replacement=True, generator=g).view(P, B)
        a = torch.where(a == 4, torch.tensor([-1, 4, 9])[torch.randint(0, 3, (P, B), generator=g)], a)
        if t == max_steps // 2:
            keep = torch.tensor([0, 2, 3, 5])
            env.select_rows(keep)
            ref.pos, ref.goal, ref.over = ref.pos[keep], ref.goal[keep], ref.over[keep]
            a = a[keep]
        elif t > max_steps // 2:
            a = a[:4]
        obs, r, done, info = env.step(a)
        r_obs, r_r, r_done, r_win = ref.step(a)
        assert torch.equal(obs, r_obs) and torch.equal(r, r_r) and torch.equal(done, r_done), t
        assert torch.equal(info["success"], r_win) and torch.equal(env.pos, ref.pos), t
        assert r.dtype == torch.float32 and done.dtype == torch.bool
        wins += int(r_win.sum())
        wrong += int(((r_r == -0.1) & r_done & (ref.pos == N)).sum())
    assert done.all()
    assert wins > 0 and wrong > 0  # both arms' outcomes occurred
