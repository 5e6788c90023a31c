"""Noise + class query (dps/envs/memory.py): observation layout, rewards at the query,
determinism, masking, a rollout with an LSTM policy, options, CPU vs CUDA."""
import pytest
import torch

from dps.envs.base import Discrete
from dps.envs.memory import ClassQuery
from dps.envs.registry import make_env
from dps.errors import UserError
from dps.policies import LSTMPolicy
from dps.rollout import make_generator, rollout


def test_observation_layout():
    T, k = 6, 3
    env = ClassQuery(length=T, noise=k)
    assert env.observation_shape == (k + 2,) and env.max_steps == T
    obs = env.reset(2, 50, make_generator(0, "cpu"))
    cls = env.cls
    assert set(cls.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(obs[..., 0], cls) and (obs[..., -1] == 0).all()
    noises = [obs[..., 1:-1]]
    for t in range(1, T):
        obs, r, done, info = env.step(torch.zeros(2, 50, dtype=torch.long))
        assert (r == 0).all() and not done.any()
        assert (obs[..., 0] == 0).all()
        assert (obs[..., -1] == (1.0 if t == T - 1 else 0.0)).all()
        noises.append(obs[..., 1:-1])
    n = torch.stack(noises)
    assert abs(n.mean().item()) < 0.1 and abs(n.std().item() - 1) < 0.1
    assert not torch.equal(noises[1], noises[2])  # fresh noise each step


@pytest.mark.parametrize("T", [1, 2, 10])
def test_right_and_wrong_answers(T):
    env = ClassQuery(length=T, noise=1)
    env.reset(1, 4, make_generator(0, "cpu"))
    env.cls = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    noise_actions = torch.tensor([[0, 1, 1, 0]])  # ignored before the query
    for _ in range(T - 1):
        _, r, done, _ = env.step(1 - noise_actions)
        assert (r == 0).all() and not done.any()
    _, r, done, info = env.step(torch.tensor([[1, 0, 0, 1]]))
    assert r.tolist() == [[1.0, -1.0, 1.0, -1.0]]
    assert done.all()
    assert info["success"].tolist() == [[True, False, True, False]]
    # done slots keep being stepped: reward 0, done, no success
    _, r, done, info = env.step(torch.tensor([[1, 0, 0, 1]]))
    assert (r == 0).all() and done.all() and not info["success"].any()


def test_determinism():
    env = ClassQuery(length=5, noise=2)
    def run(seed):
        g = make_generator(seed, "cpu")
        out = [env.reset(3, 4, g)]
        for _ in range(5):
            out.append(env.step(torch.ones(3, 4, dtype=torch.long))[0])
        return torch.stack(out)
    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))


def test_rollout_with_lstm_and_oracle_returns():
    env = make_env("class-query:length=8,noise=2")
    pol = LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=4)
    g = torch.Generator().manual_seed(0)
    params = torch.stack([pol.init_params(g) for _ in range(4)])
    res = rollout(pol, env, params, episodes=32, seed=5)
    assert (res.lengths == 8).all()
    assert ((res.returns == 1) == res.success).all() and ((res.returns == -1) | res.success).all()
    res2 = rollout(pol, env, params, episodes=32, seed=5)
    assert torch.equal(res.returns, res2.returns)


def test_options_and_errors():
    env = make_env("class-query:length=100,noise=0")
    assert env.observation_size == 2 and env.action_space == Discrete(2)
    for bad in ["class-query:length=0", "class-query:noise=-1"]:
        with pytest.raises(UserError, match="accepted"):
            make_env(bad)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_agree_on_rewards():
    envs = [ClassQuery(length=4, device="cpu"), ClassQuery(length=4, device="cuda")]
    envs[0].reset(2, 8, make_generator(0, "cpu"))
    envs[1].reset(2, 8, make_generator(0, "cuda"))
    envs[1].cls = envs[0].cls.cuda()
    actions = torch.randint(0, 2, (4, 2, 8), generator=torch.Generator().manual_seed(1))
    for t in range(4):
        o0, r0, d0, i0 = envs[0].step(actions[t])
        o1, r1, d1, i1 = envs[1].step(actions[t].cuda())
        assert torch.equal(r0, r1.cpu()) and torch.equal(d0, d1.cpu())
        assert torch.equal(i0["success"], i1["success"].cpu())
        assert torch.equal(o0[..., [0, -1]], o1[..., [0, -1]].cpu())
