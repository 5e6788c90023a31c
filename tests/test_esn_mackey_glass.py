"""The Jaeger & Haas (2004) ESN baseline and the Mackey-Glass protocol options: reservoir
construction, readout, closed loop, Euler series, option errors, and an end-to-end bound."""
import math

import pytest
import torch

from dps.errors import UserError
from dps.tasks import make_task
from dps.tasks.baselines import BASELINES, JaegerHaasESN, run_baseline
from dps.tasks.mackey_glass import HORIZON, JH2004, JH2004_SPEC, MackeyGlass, integrate


def small_task():
    return MackeyGlass(train_len=400, washout=50, drive=60, stride=60 + HORIZON, trials=3)


def test_reservoir_matches_the_construction():
    esn = JaegerHaasESN(1, 1, seed=3)
    N = 1000
    assert esn.W.shape == (N, N) and esn.W.dtype == torch.float64
    assert float(torch.linalg.eigvals(esn.W).abs().max()) == pytest.approx(0.8, abs=1e-9)
    # each weight non-zero with probability 0.01: 10⁴ ± 100 of 10⁶
    assert 9500 <= int((esn.W != 0).sum()) <= 10500
    assert float(esn.w_in.abs().max()) <= 1.0 and float(esn.w_fb.abs().max()) <= 1.0
    assert float(esn.w_in.min()) < -0.9 and float(esn.w_fb.max()) > 0.9          # U(−1, 1), not U(0, 1)
    assert torch.equal(esn._W_sparse.to_dense(), esn.W)
    other = JaegerHaasESN(1, 1, size=200, spectral_radius=0.5, connectivity=0.05, input_scale=0.1,
                          feedback_scale=0.3, seed=3)
    assert float(torch.linalg.eigvals(other.W).abs().max()) == pytest.approx(0.5, abs=1e-9)
    assert 1600 <= int((other.W != 0).sum()) <= 2400
    assert float(other.w_in.abs().max()) <= 0.1 and float(other.w_fb.abs().max()) <= 0.3
    assert torch.equal(JaegerHaasESN(1, 1, size=200, seed=3).W, JaegerHaasESN(1, 1, size=200, seed=3).W)
    assert not torch.equal(JaegerHaasESN(1, 1, size=200, seed=3).W, JaegerHaasESN(1, 1, size=200, seed=4).W)


def _states_by_hand(esn, values):
    """Teacher-forced, noise-free states for ``values`` (T,) with a dense step loop."""
    x, out = torch.zeros(esn.size, dtype=torch.float64), []
    for v in values.tolist():
        x = torch.tanh(esn.W @ x + 0.2 * esn.w_in + esn.w_fb[0] * math.tanh(v))
        out.append(x)
    return torch.stack(out)


def test_readout_equals_plain_least_squares():
    task = small_task()
    esn = JaegerHaasESN(1, 1, size=40, connectivity=0.2, noise=0.0, seed=1)
    esn.fit(task)
    d = task.train_data()
    X = _states_by_hand(esn, d.inputs[:, 0])[d.washout:]
    M = torch.cat([X, torch.full((len(X), 1), 0.2, dtype=torch.float64)], 1)        # [state, input]
    ref = torch.linalg.lstsq(M, torch.tanh(d.targets[d.washout:]), driver="gelsd").solution
    assert torch.allclose(esn.w_out, ref, atol=1e-9, rtol=0)
    # training noise changes the fit, deterministically from the seed
    a, b = (JaegerHaasESN(1, 1, size=40, connectivity=0.2, noise=1e-3, seed=1) for _ in range(2))
    a.fit(task)
    b.fit(task)
    assert torch.equal(a.w_out, b.w_out) and not torch.allclose(a.w_out, esn.w_out, atol=1e-9)


def test_drive_and_free_run_match_a_hand_written_loop():
    task = small_task()
    esn = JaegerHaasESN(1, 1, size=40, connectivity=0.2, seed=2)
    esn.fit(task)
    y = task.series[500:530]
    outs, state = esn.drive(y.reshape(1, -1, 1), None)
    X = _states_by_hand(esn, y)
    w, b = esn.w_out[:-1, 0], 0.2 * esn.w_out[-1, 0]
    # from the zero state the first outputs can leave (−1, 1): they are clamped, not NaN
    eps = torch.finfo(torch.float64).eps
    assert torch.allclose(outs[0, :, 0], torch.atanh((X @ w + b).clamp(-1 + eps, 1 - eps)), atol=1e-12, rtol=0)
    assert torch.allclose(state[0], X[-1], atol=1e-12, rtol=0)
    free = esn.generate(state, task.series[530].reshape(1, 1), 12)[0, :, 0]
    x, fed, expect = X[-1], math.tanh(float(task.series[530])), []
    for _ in range(12):
        x = torch.tanh(esn.W @ x + 0.2 * esn.w_in + esn.w_fb[0] * fed)
        fed = float(x @ w + b)                       # fed back squashed, reported unsquashed
        expect.append(math.atanh(fed))
    assert free.tolist() == pytest.approx(expect, abs=1e-12)


def test_euler_series_is_jaegers_recurrence():
    grid = integrate(40.0, 0.1, method="euler")
    c = 0.2 * 1.2 / (1 + 1.2 ** 10)
    for k in (1, 50, 170):       # history 1.2 in the delay: x_{k+1} = x_k + 0.1 (c − 0.1 x_k)
        assert grid[k] == pytest.approx(c / 0.1 + (1.2 - c / 0.1) * 0.99 ** k, abs=1e-12)
    for k in (171, 250, 399):    # eq. 23 of Jaeger (2001) with the delay of 170 steps
        lag = grid[k - 1 - 170]
        assert grid[k] == pytest.approx(grid[k - 1] + 0.1 * (0.2 * lag / (1 + lag ** 10) - 0.1 * grid[k - 1]),
                                    abs=1e-15)
    rk4 = integrate(40.0, 0.1)
    assert abs(grid[400] - rk4[400]) < 0.01 and grid[400] != rk4[400]


def test_protocol_options_and_errors():
    task = make_task(JH2004_SPEC)
    assert task.integrator == "euler" and task.train_len == 3001 and task.train_data().length == 3000
    starts = task.test_starts()
    assert len(starts) == 100 and starts[0] == 3001 + 1000
    assert all(b - a == 1000 + HORIZON for a, b in zip(starts, starts[1:]))   # disjoint blocks
    default = MackeyGlass()
    assert (default.train_len, default.washout, default.drive, default.stride, default.integrator) == (
        1085, 100, 200, 20, "rk4")
    with pytest.raises(UserError, match=r"washout 1000 leaves no step to fit; accepted: washout < train_len - 85"):
        make_task("mackey-glass:washout=1000")
    with pytest.raises(UserError, match=r"bad value 'heun' for task mackey-glass option integrator"):
        make_task("mackey-glass:integrator=heun")
    with pytest.raises(UserError, match=r"accepted: at most 500000"):
        MackeyGlass(stride=100_000, trials=100)
    with pytest.raises(UserError, match=r"bad value 1 for task mackey-glass option drive"):
        MackeyGlass(drive=1)
    with pytest.raises(UserError, match=r"bad value 0 for baseline esn-jh2004 option size"):
        JaegerHaasESN(1, 1, size=0)
    with pytest.raises(UserError, match=r"bad value 'input' for baseline esn-jh2004 option noise_on"):
        JaegerHaasESN(1, 1, size=10, noise_on="input")
    with pytest.raises(UserError, match=r"in_size must equal out_size"):
        JaegerHaasESN(4, 2, size=10)
    with pytest.raises(UserError, match=r"needs a generative task"):
        JaegerHaasESN(4, 4, size=10, connectivity=0.5).fit(make_task("anbncn:train_max=3"))
    assert BASELINES["esn-jh2004"] is JaegerHaasESN


def test_jh2004_esn_beats_a_bound_the_harness_esn_misses():
    task = MackeyGlass(**{**JH2004, "trials": 20})
    jh = run_baseline("esn-jh2004", task, seed=0)
    old = run_baseline("esn", task, seed=0)
    assert jh["nrmse84"] < 1e-3 < old["nrmse84"]     # measured: 1.6e-4 and 0.42
    assert math.isfinite(jh["test_mse"]) and jh["wall_s"] < 15
