"""Catch (dps/envs/catch.py): hand-worked catches and misses, observation grid,
determinism, masking, a rollout with an LSTM policy, options, CPU vs CUDA."""
import pytest
import torch

from dps.envs.base import Discrete
from dps.envs.catch import Catch
from dps.envs.registry import make_env
from dps.errors import UserError
from dps.policies import LSTMPolicy
from dps.rollout import make_generator, rollout

LEFT, STAY, RIGHT = 0, 1, 2


def _start(env, ball_cols):
    env.reset(1, len(ball_cols), make_generator(0, "cpu"))
    env.ball_col = torch.tensor([ball_cols])
    return env._obs()


def test_observation_grid():
    env = Catch(rows=4, columns=3)
    obs = _start(env, [0, 2])
    grid = obs.reshape(1, 2, 4, 3)
    expect0 = torch.zeros(4, 3)
    expect0[0, 0] = 1
    expect0[3, 1] = 1
    expect1 = torch.zeros(4, 3)
    expect1[0, 2] = 1
    expect1[3, 1] = 1
    assert torch.equal(grid[0, 0], expect0) and torch.equal(grid[0, 1], expect1)
    obs, *_ = env.step(torch.tensor([[LEFT, RIGHT]]))
    grid = obs.reshape(1, 2, 4, 3)
    expect0 = torch.zeros(4, 3)
    expect0[1, 0] = 1
    expect0[3, 0] = 1
    assert torch.equal(grid[0, 0], expect0)


def test_catch_and_miss():
    env = Catch(rows=5, columns=5)  # paddle starts in column 2, 4 steps per episode
    _start(env, [0, 0, 4, 2])
    plans = [[LEFT, LEFT, STAY, STAY],     # slot 0: reaches column 0 -> caught
             [RIGHT, STAY, STAY, STAY],    # slot 1: column 3 -> missed
             [RIGHT, RIGHT, RIGHT, RIGHT],  # slot 2: right wall stops it at 4 -> caught
             [LEFT, RIGHT, STAY, LEFT]]    # slot 3: ends in column 1 -> missed
    for t in range(4):
        _, r, done, info = env.step(torch.tensor([[p[t] for p in plans]]))
        if t < 3:
            assert (r == 0).all() and not done.any()
    assert r.tolist() == [[1.0, -1.0, 1.0, -1.0]]
    assert done.all() and info["success"].tolist() == [[True, False, True, False]]
    assert env.paddle.tolist() == [[0, 3, 4, 1]]
    _, r, done, info = env.step(torch.tensor([[LEFT, 9, RIGHT, STAY]]))
    assert (r == 0).all() and done.all() and not info["success"].any()
    assert env.paddle.tolist() == [[0, 3, 4, 1]]  # frozen


def test_determinism_and_start_distribution():
    env = Catch(rows=6, columns=5)
    a = env.reset(4, 100, make_generator(7, "cpu"))
    b = env.reset(4, 100, make_generator(7, "cpu"))
    assert torch.equal(a, b)
    counts = torch.bincount(env.ball_col.flatten(), minlength=5)
    assert (counts > 40).all()  # 400 draws over 5 columns


def test_rollout_with_lstm():
    env = make_env("catch:rows=6,columns=4")
    pol = LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=4)
    g = torch.Generator().manual_seed(0)
    params = torch.stack([pol.init_params(g) for _ in range(3)])
    res = rollout(pol, env, params, episodes=10, seed=2)
    assert (res.lengths == 5).all()
    assert ((res.returns == 1) == res.success).all() and (res.returns.abs() == 1).all()
    assert torch.equal(res.returns, rollout(pol, env, params, episodes=10, seed=2).returns)


def test_options_and_errors():
    env = make_env("catch:rows=3,columns=1")
    assert env.observation_size == 3 and env.action_space == Discrete(3) and env.max_steps == 2
    for bad in ["catch:rows=1", "catch:columns=0"]:
        with pytest.raises(UserError, match="accepted"):
            make_env(bad)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_trajectories_agree():
    envs = [Catch(device="cpu"), Catch(device="cuda")]
    envs[0].reset(2, 16, make_generator(0, "cpu"))
    envs[1].reset(2, 16, make_generator(0, "cuda"))
    envs[1].ball_col = envs[0].ball_col.cuda()
    actions = torch.randint(0, 3, (9, 2, 16), generator=torch.Generator().manual_seed(1))
    for t in range(9):
        out0 = envs[0].step(actions[t])
        out1 = envs[1].step(actions[t].cuda())
        for a, b in zip(out0[:3], out1[:3]):
            assert torch.equal(a, b.cpu())
