"""Evolino: readout fit, closed loop, ESP bookkeeping, a short fixed-seed run, resume."""
import io

import pytest
import torch

from dps.algorithms.esp import ESP, cauchy, credit
from dps.algorithms.evolino import Config, Evolino, cell_indices, closed_loop, drive_features, recurrent_indices
from dps.algorithms.learner import RunContext
from dps.errors import UserError
from dps.policies import make_policy, reset_where
from dps.tasks import make_task
from dps.tasks.readout import fit_readout


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)   # tiny batched ops: threads only add contention
    yield
    torch.set_num_threads(n)


def test_pinv_readout_equals_least_squares():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(4, 50, 6, generator=g, dtype=torch.float64)
    targets = torch.randn(50, 2, generator=g, dtype=torch.float64)
    W, b = fit_readout(feats, targets)
    for p in range(4):
        Phi = torch.cat([feats[p], torch.ones(50, 1, dtype=torch.float64)], 1)
        ref = torch.linalg.lstsq(Phi, targets).solution
        assert torch.allclose(W[p], ref[:6], atol=1e-10) and torch.allclose(b[p], ref[6], atol=1e-10)
    # ridge: the normal equations with ρ I
    Wr, br = fit_readout(feats, targets, ridge=0.5)
    Phi = torch.cat([feats[1], torch.ones(50, 1, dtype=torch.float64)], 1)
    ref = torch.linalg.solve(Phi.T @ Phi + 0.5 * torch.eye(7, dtype=torch.float64), Phi.T @ targets)
    assert torch.allclose(torch.cat([Wr[1], br[1:2]]), ref, atol=1e-10)


class LinearRecurrence:
    """h_t = a h_{t−1} + k u_t, readout y = c h (per row p: a_p, k_p, c_p); a known linear system."""

    def __init__(self):
        self.hidden = 1

    def initial_state(self, P, B, device=None, dtype=torch.float64):
        return (torch.zeros(P, B, 1, dtype=dtype),)

    def features(self, params, obs, state, episode_start=None):
        a, k = params[:, 0].reshape(-1, 1, 1), params[:, 1].reshape(-1, 1, 1)
        h = a * reset_where(state[0], episode_start) + k * obs
        return h, (h,)

    def readout(self, params, feats):
        return params[:, 2].reshape(-1, 1, 1) * feats


def test_closed_loop_feeds_predictions_back():
    pol = LinearRecurrence()
    params = torch.tensor([[0.5, 2.0, 3.0], [0.9, -1.0, 0.5]], dtype=torch.float64)
    s, h0, u0, steps = 0.01, 0.7, 1.5, 6
    state = (torch.full((2, 1, 1), h0, dtype=torch.float64),)
    out = closed_loop(pol, params, state, torch.tensor([[u0]], dtype=torch.float64), steps, s)
    for p, (a, k, c) in enumerate(params.tolist()):
        h1 = a * h0 + k * s * u0
        # closed loop: h_{t+1} = a h_t + k s (c h_t) = (a + k s c) h_t
        exact = [c * h1 * (a + k * s * c) ** i for i in range(steps)]
        assert out[p, 0, :, 0].tolist() == pytest.approx(exact, rel=1e-12)


def test_drive_resets_state_at_string_starts():
    pol = LinearRecurrence()
    params = torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64)
    x = torch.ones(1, 5, 1, dtype=torch.float64)
    resets = torch.tensor([[True, False, False, True, False]])
    feats, _ = drive_features(pol, params, x, None, resets)
    assert feats[0, 0, :, 0].tolist() == [1, 2, 3, 1, 2]


@pytest.mark.parametrize("mode", ["mean", "best"])
def test_esp_credit_is_mean_or_best_of_the_individuals_taken_part_in(mode):
    g = torch.Generator().manual_seed(1)
    esp = ESP(n_sub=3, length=4, n=4, trials=5, init_scale=0.1, alpha=0.01, parents=0.25,
              credit_mode=mode, stagnation=0, burst_scale=0.01, generator=g)
    index, chroms = esp.ask()
    assert index.shape == (20, 3) and chroms.shape == (20, 3, 4)
    for j in range(3):  # permutations: every chromosome in exactly `trials` individuals
        assert torch.bincount(index[:, j], minlength=4).tolist() == [5] * 4
        assert torch.equal(chroms[:, j], esp.pop[j, index[:, j]])
    fitness = torch.randn(20, generator=g, dtype=torch.float64)
    F = credit(index, fitness, 4, mode)
    for j in range(3):
        for i in range(4):
            mine = [float(fitness[k]) for k in range(20) if int(index[k, j]) == i]
            want = sum(mine) / len(mine) if mode == "mean" else max(mine)
            assert float(F[j, i]) == pytest.approx(want, abs=1e-12)
    # after tell, the top quarter (1 of 4) of each subpopulation survives unchanged in slot 0
    old = esp.pop.clone()
    esp.tell(index, fitness)
    for j in range(3):
        assert torch.equal(esp.pop[j, 0], old[j, int(F[j].argmax())])


def test_cauchy_has_the_right_median_scale():
    x = cauchy((20000,), 0.1, torch.Generator().manual_seed(0))
    assert float(x.abs().median()) == pytest.approx(0.1, rel=0.05)   # |C(0, γ)| has median γ


def test_cell_indices_cover_the_recurrent_weights_once():
    pol = make_policy("lstm:hidden=3,peepholes=true", (2,), 1)
    idx = cell_indices(pol)
    assert idx.shape == (3, 4 * (2 + 3) + 4 + 3)
    assert sorted(idx.reshape(-1).tolist()) == recurrent_indices(pol).tolist()
    p = torch.zeros(1, pol.num_params)
    p[0, idx[1]] = 1.0     # cell 1's weights: column 1 of each gate block, its biases, peepholes
    W0 = pol.block(p, "W0")[0]
    assert W0[:, [1, 4, 7, 10]].eq(1).all() and W0.sum() == 5 * 4
    assert pol.block(p, "peep0")[0].tolist() == [0, 1, 0, 0, 1, 0, 0, 1, 0]


def _learner(outer="esp", seed=3, hidden=6, subpop=6):
    task = make_task("sines:n=2")
    pol = make_policy(f"lstm:hidden={hidden},peepholes=true", (1,), 1)
    return Evolino(pol, task, Config(outer=outer, subpop=subpop, trials=2, cma_popsize=8), seed=seed)


def test_short_fixed_seed_run_on_two_sines(tmp_path):
    ev = _learner(hidden=10, subpop=8)
    for _ in range(6):
        m = ev.step()
    assert m["episodes"] == 16 and m["env_steps"] == 16 * 949 and m["best"] <= m["best_so_far"]
    # the centre carries its fitted readout: re-evaluating it reproduces its training error
    _, err = ev.fit_and_score(ev.center.unsqueeze(0))
    assert float(err[0]) == pytest.approx(-ev.best_fitness, rel=1e-5)   # pinv round-off
    out = ev.final_evaluation(tmp_path)
    assert out["test_mse"] < 1e-3        # free-running MSE on x ∈ [1600, 2160)
    assert (tmp_path / "prediction.png").stat().st_size > 1000
    # the ESN and BPTT-LSTM baselines are fitted and tested on the same task in the same run
    base = out["baselines"]
    assert set(base) == {"esn", "bptt-lstm"}
    for name in base:
        assert base[name]["test_mse"] >= 0 and base[name]["wall_s"] > 0
    # ... and stay out of the way when switched off
    ev.config.baselines = False
    assert "baselines" not in ev.final_evaluation(None)


@pytest.mark.parametrize("outer", ["esp", "cmaes"])
def test_resume_is_bit_identical(outer):
    a = _learner(outer, seed=5)
    for _ in range(2):
        a.step()
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = _learner(outer, seed=5)
    b.load_state_dict(torch.load(buf, weights_only=True))
    ma, mb = a.step(), b.step()
    assert ma == mb
    assert torch.equal(a.center, b.center)


def test_from_run_builds_task_and_policy():
    ctx = RunContext(env=None, policy=None, config=Config(subpop=4, trials=1), seed=1,
                     device=torch.device("cpu"), popsize=5, task="anbncn:train_max=3")
    ev = Evolino.from_run(ctx)
    assert ev.esp.n == 5 and ev.policy.obs_size == 4 and ev.policy.out_size == 4
    m = ev.step()
    assert m["episodes"] == 5 and m["best"] <= 0
    with pytest.raises(UserError, match="--task"):
        Evolino.from_run(RunContext(env=None, policy=None, config=None, seed=0,
                                    device=torch.device("cpu")))
