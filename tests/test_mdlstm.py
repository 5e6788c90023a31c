"""MDRNN / MDLSTM board player: parameter counts, board-size independence, 8-fold
equivariance, a plain-loop reference, population batching, gradients, legal-move heads."""
import math

import pytest
import torch

from dps.errors import UserError
from dps.policies import DiscreteHead, make_policy
from dps.policies.mdlstm import MDLSTMPolicy

CELLS = ["tanh", "lstm"]


def board(N, B=1, P=1, seed=0, dtype=torch.float64):
    """Random legal positions: each point empty, opponent or own stone."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randint(0, 3, (P, B, N, N), generator=g)
    return torch.stack([v == 1, v == 2], 2).to(dtype)


def rand_params(pol, P=1, seed=0, scale=1.5, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([pol.init_params(g, scale, dtype)
                        + 0.3 * torch.randn(pol.num_params, generator=g, dtype=dtype)
                        for _ in range(P)])


# -- parameter counts ---------------------------------------------------------------------
@pytest.mark.parametrize("h", [1, 2, 3, 4, 7])
def test_parameter_counts(h):
    assert MDLSTMPolicy((2, 5, 5), 25, h, "tanh").num_params == h * h + 4 * h
    assert MDLSTMPolicy((2, 5, 5), 25, h, "lstm").num_params == 5 * h * h + 16 * h
    for N in (2, 9, 19):  # independent of the board size
        assert MDLSTMPolicy((2, N, N), N * N, h, "lstm").num_params == 5 * h * h + 16 * h


def test_pybrain_reference_count():
    assert MDLSTMPolicy((2, 2, 2), 4, hidden=1, cell="lstm").num_params == 21


def test_layout_covers_vector():
    for cell in CELLS:
        pol = MDLSTMPolicy((2, 5, 5), 25, 3, cell)
        covered = sorted((sl.start, sl.stop) for sl, _ in pol.layout.values())
        assert covered[0][0] == 0 and covered[-1][1] == pol.num_params
        assert all(a[1] == b[0] for a, b in zip(covered, covered[1:]))


def test_bad_options():
    with pytest.raises(UserError, match="'gru'.*lstm, tanh"):
        MDLSTMPolicy((2, 5, 5), 25, cell="gru")
    with pytest.raises(UserError, match="out_size"):
        MDLSTMPolicy((2, 5, 5), 24)
    with pytest.raises(UserError, match=r"\(2, N, N\)"):
        MDLSTMPolicy((2, 5, 4), 20)
    with pytest.raises(UserError):
        MDLSTMPolicy((2, 5, 5), 25, hidden=0)
    pol = make_policy("mdlstm:hidden=3,cell=tanh", (2, 5, 5), 25)
    assert isinstance(pol, MDLSTMPolicy) and pol.num_params == 21


# -- shapes and board sizes ---------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_same_params_any_board_size(cell):
    p5 = MDLSTMPolicy((2, 5, 5), 25, 4, cell)
    p9 = MDLSTMPolicy((2, 9, 9), 81, 4, cell)
    params = p5.init_params(torch.Generator().manual_seed(1)).unsqueeze(0).repeat(3, 1)
    assert p5.initial_state(3, 2) == ()
    out5, st = p5.step(params, board(5, B=2, P=3, dtype=torch.float32), ())
    out9, _ = p9.step(params, board(9, B=2, P=3, dtype=torch.float32), ())
    assert out5.shape == (3, 2, 25) and out9.shape == (3, 2, 81) and st == ()
    assert torch.isfinite(out5).all() and torch.isfinite(out9).all()
    # a flat observation is the same board
    flat, _ = p5.step(params, board(5, B=2, P=3, dtype=torch.float32).reshape(3, 2, 50), ())
    assert torch.equal(flat, out5)


# -- equivariance -------------------------------------------------------------------------
SYMMETRIES = {
    "id": lambda t: t,
    "rot90": lambda t: t.rot90(1, (-2, -1)),
    "rot180": lambda t: t.rot90(2, (-2, -1)),
    "rot270": lambda t: t.rot90(3, (-2, -1)),
    "flip_i": lambda t: t.flip(-2),
    "flip_j": lambda t: t.flip(-1),
    "transpose": lambda t: t.transpose(-2, -1),
    "anti_transpose": lambda t: t.rot90(2, (-2, -1)).transpose(-2, -1),
}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("N", [4, 5])
def test_equivariance_under_the_8_symmetries(cell, N):
    pol = MDLSTMPolicy((2, N, N), N * N, 3, cell)
    params = rand_params(pol, P=2, seed=3, dtype=torch.float32)
    obs = board(N, B=4, P=2, seed=4, dtype=torch.float32)
    out = pol.step(params, obs, ())[0].reshape(2, 4, N, N)
    assert out.std() > 1e-2  # not trivially constant
    for name, g in SYMMETRIES.items():
        out_g = pol.step(params, g(obs), ())[0].reshape(2, 4, N, N)
        torch.testing.assert_close(out_g, g(out), atol=1e-5, rtol=1e-5, msg=name)


# -- plain-loop reference -----------------------------------------------------------------
def reference(pol, theta, x):
    """One member ``theta (D,)``, one board ``x (2, N, N)``: four sweeps point by point,
    written directly from the module docstring's equations."""
    N, h, lstm = pol.N, pol.hidden, pol.cell == "lstm"
    blk = {k: theta[sl].reshape(shape) for k, (sl, shape) in pol.layout.items()}
    sig = torch.sigmoid
    score = torch.zeros(N, N, dtype=theta.dtype)
    for di in (1, -1):
        for dj in (1, -1):
            H, Sx = {}, {}
            rows = range(N) if di == 1 else range(N - 1, -1, -1)
            cols = range(N) if dj == 1 else range(N - 1, -1, -1)
            for i in rows:
                for j in cols:
                    msgs = []
                    for q in ((i - di, j), (i, j - dj)):
                        if q in H:
                            m = H[q] @ blk["W_rec"]
                            msgs.append(torch.cat([m, Sx[q]]) if lstm else m)
                        else:
                            msgs.append(blk["border"])
                    a = x[:, i, j] @ blk["W_in"]
                    if not lstm:
                        H[i, j] = torch.tanh(a + msgs[0] + msgs[1])
                        continue
                    ai, af, ao, ag = a.split(h)  # W_in blocks (i, f, o, g)
                    u, l = (m.split(h) for m in msgs)  # (i, f_own, f_other, o, g, s)
                    ig = sig(ai + u[0] + l[0])
                    fu = sig(af + blk["b_f"] + u[1] + l[2])
                    fl = sig(af + blk["b_f"] + l[1] + u[2])
                    og = sig(ao + u[3] + l[3])
                    gg = torch.tanh(ag + u[4] + l[4])
                    Sx[i, j] = ig * gg + fu * u[5] + fl * l[5]
                    H[i, j] = og * torch.tanh(Sx[i, j])
            for (i, j), hv in H.items():
                score[i, j] += (hv @ blk["W_out"]).squeeze()
    return score.reshape(N * N)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("N", [1, 2, 3, 6])
def test_matches_plain_loop_reference(cell, N):
    pol = MDLSTMPolicy((2, N, N), N * N, 2, cell)
    params = rand_params(pol, P=2, seed=5)
    obs = board(N, B=3, P=2, seed=6)
    out, _ = pol.step(params, obs, ())
    for p in range(2):
        for b in range(3):
            torch.testing.assert_close(out[p, b], reference(pol, params[p], obs[p, b]),
                                       atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_population_batching_equals_members_alone(cell):
    pol = MDLSTMPolicy((2, 5, 5), 25, 3, cell)
    params = rand_params(pol, P=4, seed=7, dtype=torch.float32)
    obs = board(5, B=6, P=4, seed=8, dtype=torch.float32)
    out, _ = pol.step(params, obs, ())
    for p in range(4):
        alone, _ = pol.step(params[p:p + 1], obs[p:p + 1], ())
        torch.testing.assert_close(out[p:p + 1], alone, atol=1e-6, rtol=1e-6)
    # different members really differ
    assert not torch.allclose(out[0], out[1])


# -- gradients ----------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck(cell):
    pol = MDLSTMPolicy((2, 3, 3), 9, 2, cell)
    params = rand_params(pol, P=1, seed=9).requires_grad_(True)
    obs = board(3, B=1, P=1, seed=10)
    assert torch.autograd.gradcheck(lambda th: pol.step(th, obs, ())[0], (params,),
                                    eps=1e-6, atol=1e-5)


def test_gradient_flows_to_every_block():
    pol = MDLSTMPolicy((2, 4, 4), 16, 2, "lstm")
    params = rand_params(pol, P=1, seed=11, dtype=torch.float32).requires_grad_(True)
    out, _ = pol.step(params, board(4, B=3, seed=12, dtype=torch.float32), ())
    out.pow(2).sum().backward()
    for name, (sl, _) in pol.layout.items():
        assert params.grad[0, sl].abs().sum() > 0, name


# -- heads: legal moves and tie-breaking ----------------------------------------------------
def test_greedy_picks_only_empty_points():
    N, B = 5, 64
    pol = MDLSTMPolicy((2, N, N), N * N, 4, "lstm")
    params = rand_params(pol, P=3, seed=13, dtype=torch.float32)
    obs = board(N, B=B, P=3, seed=14, dtype=torch.float32)
    out, _ = pol.step(params, obs, ())
    empty = (obs.sum(2) == 0).reshape(3, B, N * N)
    head = DiscreteHead(N * N)
    g = torch.Generator().manual_seed(0)
    for gen in (None, g):
        a = head.greedy(out, empty, gen)
        assert empty.gather(-1, a.unsqueeze(-1)).all()
    # and it is the best empty point
    best = out.masked_fill(~empty, -math.inf).max(-1).values
    assert torch.equal(out.gather(-1, a.unsqueeze(-1)).squeeze(-1), best)


def test_argmax_ties_are_broken_uniformly():
    N, B = 4, 4000
    pol = MDLSTMPolicy((2, N, N), N * N, 2, "tanh")
    params = pol.init_params(scale=0.0).unsqueeze(0)  # all scores equal: every empty point ties
    v = torch.tensor([[0, 1, 2, 0], [0, 0, 1, 0], [2, 0, 0, 0], [0, 0, 0, 1]])
    obs = torch.stack([v == 1, v == 2]).float().expand(1, B, 2, N, N)
    out, _ = pol.step(params, obs, ())
    assert (out == out[..., :1]).all()
    empty = (obs.sum(2) == 0).reshape(1, B, N * N)
    a = DiscreteHead(N * N).greedy(out, empty, torch.Generator().manual_seed(1))
    counts = torch.bincount(a.flatten(), minlength=N * N).double()
    legal = empty[0, 0]
    assert counts[~legal].sum() == 0
    K = int(legal.sum())
    expected = B / K
    chi2 = float(((counts[legal] - expected) ** 2 / expected).sum())
    df = K - 1
    assert chi2 < df + 5 * math.sqrt(2 * df), (chi2, counts[legal])
