"""The shared LSTM/MLP policies: batching, reset convention, BPTT gradients."""
import math

import pytest
import torch

from dps.envs.base import Box
from dps.errors import UserError
from dps.policies import LinearPolicy, LSTMPolicy, MLPPolicy, RNNPolicy, make_policy
from dps.policies.heads import BoxHead, DiscreteHead


def reference_lstm(params_row, pol, xs, peep):
    """Plain per-step LSTM with explicit gates (one member, one sequence), float64."""
    H = pol.hidden
    h = [torch.zeros(H, dtype=torch.float64) for _ in range(pol.layers)]
    c = [torch.zeros(H, dtype=torch.float64) for _ in range(pol.layers)]
    outs = []
    for x in xs:
        inp = x * pol.input_scale
        for l in range(pol.layers):
            sl, shape = pol.layout[f"W{l}"]
            W = params_row[sl].reshape(shape)
            b = params_row[pol.layout[f"b{l}"][0]]
            z = torch.cat([inp, h[l]]) @ W + b
            zi, zf, zg, zo = z[:H], z[H:2 * H], z[2 * H:3 * H], z[3 * H:]
            if peep:
                p = params_row[pol.layout[f"peep{l}"][0]]
                zi = zi + p[:H] * c[l]
                zf = zf + p[H:2 * H] * c[l]
            c[l] = torch.sigmoid(zf) * c[l] + torch.sigmoid(zi) * torch.tanh(zg)
            if peep:
                zo = zo + p[2 * H:] * c[l]
            h[l] = torch.sigmoid(zo) * torch.tanh(c[l])
            inp = h[l]
        if getattr(pol, "skip", False):                     # readout on [h, x · input_scale]
            inp = torch.cat([inp, x * pol.input_scale])
        sl, shape = pol.layout["W_out"]
        outs.append(inp @ params_row[sl].reshape(shape) + params_row[pol.layout["b_out"][0]])
    return torch.stack(outs)



def central_differences(loss, theta: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Central finite differences of a scalar ``loss`` w.r.t. each entry of a (1, D) row."""
    num = torch.zeros_like(theta)
    for i in range(theta.shape[1]):
        e = torch.zeros_like(theta)
        e[0, i] = h
        num[0, i] = (loss(theta + e) - loss(theta - e)) / (2 * h)
    return num


def last_output_loss(pol, xs):
    """``loss(theta, x=xs)``: the squared last output of ``pol`` run over the sequence ``xs``
    (T, 1, B, obs) from a fresh state — the gradient must flow back through time."""
    def loss(th, x=xs):
        state = pol.initial_state(1, x.shape[2], dtype=torch.float64)
        for t in range(x.shape[0]):
            o, state = pol.step(th, x[t], state)
        return (o ** 2).sum()
    return loss


@pytest.mark.parametrize("layers,peep", [(1, False), (2, True)])
def test_lstm_matches_plain_reference_and_batches_members(layers, peep):
    pol = LSTMPolicy((3,), 2, hidden=4, layers=layers, peepholes=peep)
    g = torch.Generator().manual_seed(0)
    P, B, T = 3, 2, 6
    params = torch.randn(P, pol.num_params, generator=g, dtype=torch.float64)
    xs = torch.randn(T, P, B, 3, generator=g, dtype=torch.float64)
    state = pol.initial_state(P, B, dtype=torch.float64)
    outs = []
    for t in range(T):
        o, state = pol.step(params, xs[t], state)
        outs.append(o)
    outs = torch.stack(outs)  # (T, P, B, 2)
    for p in range(P):
        for b in range(B):
            ref = reference_lstm(params[p], pol, xs[:, p, b], peep)
            assert torch.allclose(outs[:, p, b], ref, atol=1e-12)


def test_param_count():
    pol = LSTMPolicy((5,), 3, hidden=7, layers=1, peepholes=True)
    H = 7
    assert pol.num_params == (5 + H) * 4 * H + 4 * H + 3 * H + H * 3 + 3
    assert MLPPolicy((5,), 3, hidden=(8,)).num_params == 5 * 8 + 8 + 8 * 3 + 3
    assert LinearPolicy((5,), 3).num_params == 18


def test_reset_convention_episode_start_equals_fresh_state():
    """Where episode_start is True the slot behaves exactly like a fresh episode."""
    pol = LSTMPolicy((2,), 2, hidden=3)
    params = torch.randn(1, pol.num_params, dtype=torch.float64)
    xs = torch.randn(5, 1, 2, 2, dtype=torch.float64)
    state = pol.initial_state(1, 2, dtype=torch.float64)
    for t in range(3):
        _, state = pol.step(params, xs[t], state)
    start = torch.tensor([[True, False]])
    o_reset, _ = pol.step(params, xs[3], state, episode_start=start)
    o_fresh, _ = pol.step(params, xs[3], pol.initial_state(1, 2, dtype=torch.float64))
    o_cont, _ = pol.step(params, xs[3], state)
    assert torch.allclose(o_reset[0, 0], o_fresh[0, 0])
    assert torch.allclose(o_reset[0, 1], o_cont[0, 1])
    assert not torch.allclose(o_reset[0, 0], o_cont[0, 0])
    # no in-place write into the caller's state
    assert not torch.equal(state[0][0, 0], torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_bptt_gradient_matches_finite_differences(kind):
    """P = 1 + autograd through an unrolled sequence = BPTT; check against central differences."""
    pol = LSTMPolicy((2,), 2, hidden=3, peepholes=True) if kind == "lstm" else RNNPolicy((2,), 1, hidden=3, skip=True)
    g = torch.Generator().manual_seed(4)
    theta = (0.5 * torch.randn(1, pol.num_params, generator=g, dtype=torch.float64)).requires_grad_(True)
    xs = torch.randn(8, 1, 2, 2, generator=g, dtype=torch.float64)
    loss = last_output_loss(pol, xs)
    loss(theta).backward()
    assert torch.allclose(theta.grad, central_differences(loss, theta.detach()), atol=1e-7, rtol=1e-5)
    # gradient reaches the first input
    x0 = xs.clone().requires_grad_(True)
    loss(theta.detach(), x0).backward()
    assert x0.grad[0].abs().sum() > 0


def test_make_policy_specs():
    assert make_policy("lstm:hidden=5,layers=2", (3,), 2).layers == 2
    assert make_policy("mlp:hidden=4+4", (3,), 2).hidden == (4, 4)
    assert make_policy("linear", (3,), 2).num_params == 8


def test_heads():
    head = DiscreteHead(3)
    out = torch.tensor([[[0.0, 2.0, 1.0]]])
    assert head.greedy(out).item() == 1
    mask = torch.tensor([[[True, False, True]]])
    assert head.greedy(out, mask).item() == 2
    g = torch.Generator().manual_seed(0)
    a = torch.stack([head.sample(out.expand(1, 4000, 3), None, g)[0] for _ in range(1)]).flatten()
    freq = torch.bincount(a, minlength=3).double() / a.numel()
    assert torch.allclose(freq, torch.softmax(out[0, 0].double(), 0), atol=0.03)
    box = BoxHead(Box.uniform(2, -2.0, 2.0))
    assert torch.allclose(box.greedy(torch.zeros(1, 1, 2)), torch.zeros(1, 1, 2))
    assert float(box.greedy(torch.full((1, 1, 2), 50.0)).max()) == pytest.approx(2.0)
    u = torch.tensor([0.3, -0.2])
    lp = BoxHead.log_prob_u(torch.zeros(2), torch.tensor([0.0, math.log(2.0)]), u)
    ref = torch.distributions.Normal(torch.zeros(2), torch.tensor([1.0, 2.0])).log_prob(u).sum()
    assert float(lp) == pytest.approx(float(ref), abs=1e-6)


@pytest.mark.parametrize("layers,peep", [(1, False), (2, True)])
def test_lstm_fast_tanh_close_to_default(layers, peep):
    """fast_tanh computes tanh as 2σ(2x) − 1: same function up to rounding."""
    g = torch.Generator().manual_seed(1)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 2e-6)):
        ref = LSTMPolicy((3,), 2, hidden=5, layers=layers, peepholes=peep)
        fast = LSTMPolicy((3,), 2, hidden=5, layers=layers, peepholes=peep, fast_tanh=True)
        P, B, T = 4, 3, 8
        params = torch.randn(P, ref.num_params, generator=g, dtype=dtype)
        xs = torch.randn(T, P, B, 3, generator=g, dtype=dtype) * 3
        s1, s2 = ref.initial_state(P, B, dtype=dtype), fast.initial_state(P, B, dtype=dtype)
        for t in range(T):
            o1, s1 = ref.step(params, xs[t], s1)
            o2, s2 = fast.step(params, xs[t], s2)
            assert torch.allclose(o1, o2, atol=tol, rtol=0)
    # gradients flow through the in-place doubling
    params = torch.randn(1, fast.num_params, dtype=torch.float64, requires_grad=True)
    out, _ = fast.step(params, torch.randn(1, 2, 3, dtype=torch.float64), fast.initial_state(1, 2, dtype=torch.float64))
    out.sum().backward()
    assert torch.isfinite(params.grad).all()


@pytest.mark.parametrize("layers,peep", [(1, False), (2, True)])
def test_lstm_skip_readout_matches_plain_reference(layers, peep):
    """skip=true: out = [h_t, x_t · input_scale] W_out + b_out, h_t from the plain LSTM."""
    pol = LSTMPolicy((3,), 2, hidden=4, layers=layers, peepholes=peep, input_scale=2.0, skip=True)
    assert pol.feature_size == 4 + 3 and pol.layout["W_out"][1] == (7, 2)
    g = torch.Generator().manual_seed(2)
    P, B, T = 3, 2, 6
    params = torch.randn(P, pol.num_params, generator=g, dtype=torch.float64)
    xs = torch.randn(T, P, B, 3, generator=g, dtype=torch.float64)
    state = pol.initial_state(P, B, dtype=torch.float64)
    outs = []
    for t in range(T):
        feats, new_state = pol.features(params, xs[t], state)
        assert torch.equal(feats[..., 4:], xs[t] * 2.0)      # the skip part of the features
        o, state = pol.step(params, xs[t], state)
        # step may run the C kernel (dps/native), features + readout run torch: same function
        torch.testing.assert_close(o, pol.readout(params, feats), atol=1e-12, rtol=1e-12)
        outs.append(o)
    outs = torch.stack(outs)
    for p in range(P):
        for b in range(B):
            ref = reference_lstm(params[p], pol, xs[:, p, b], peep)
            assert torch.allclose(outs[:, p, b], ref, atol=1e-12)
    # the same cells as the plain LSTM: with the skip weights zeroed, the output equals a
    # skip=false policy whose W_out is the h rows
    plain = LSTMPolicy((3,), 2, hidden=4, layers=layers, peepholes=peep, input_scale=2.0)
    sl, _ = pol.layout["W_out"]
    W = params[:, sl].reshape(P, 7, 2)
    pp = torch.cat([params[:, :sl.start], W[:, :4].reshape(P, -1), params[:, sl.stop:]], 1)
    zero = params.clone()
    zero[:, sl] = torch.cat([W[:, :4], torch.zeros_like(W[:, 4:])], 1).reshape(P, -1)
    s1, s2 = pol.initial_state(P, B, dtype=torch.float64), plain.initial_state(P, B, dtype=torch.float64)
    for t in range(T):
        o1, s1 = pol.step(zero, xs[t], s1)
        o2, s2 = plain.step(pp, xs[t], s2)
        assert torch.allclose(o1, o2, atol=1e-12)


def test_lstm_new_options_off_are_bit_identical_to_the_plain_lstm():
    """skip=false / input_bias=0 (the defaults) change neither the layout, the init nor the output."""
    ref = LSTMPolicy((3,), 4, hidden=5, forget_bias=2.0)
    new = LSTMPolicy((3,), 4, hidden=5, forget_bias=2.0, skip=False, input_bias=0.0)
    assert new.layout == ref.layout and new.num_params == ref.num_params == (3 + 5) * 20 + 20 + 5 * 4 + 4
    assert new.feature_size == 5
    t1 = ref.init_params(torch.Generator().manual_seed(0))
    t2 = new.init_params(torch.Generator().manual_seed(0))
    assert torch.equal(t1, t2)
    xs = torch.randn(5, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    params = torch.stack([t1, 2 * t1])
    s1, s2 = ref.initial_state(2, 3), new.initial_state(2, 3)
    for t in range(5):
        o1, s1 = ref.step(params, xs[t], s1)
        o2, s2 = new.step(params, xs[t], s2)
        assert torch.equal(o1, o2)


def test_lstm_input_bias_shifts_only_the_input_gate_bias():
    H = 5
    for layers in (1, 2):
        ref = LSTMPolicy((3,), 4, hidden=H, layers=layers, forget_bias=5.0)
        pol = LSTMPolicy((3,), 4, hidden=H, layers=layers, forget_bias=5.0, input_bias=-3.0)
        t1 = ref.init_params(torch.Generator().manual_seed(0))
        t2 = pol.init_params(torch.Generator().manual_seed(0))
        expect = t1.clone()
        for l in range(layers):
            sl, _ = ref.layout[f"b{l}"]
            assert torch.equal(t1[sl.start + H:sl.start + 2 * H], torch.full((H,), 5.0))
            expect[sl.start:sl.start + H] -= 3.0
        assert torch.equal(t2, expect)
    assert torch.equal(pol.init_params(scale=0), torch.zeros(pol.num_params))


def test_lstm_skip_bptt_gradient_matches_finite_differences():
    pol = LSTMPolicy((2,), 2, hidden=3, peepholes=True, skip=True, input_bias=-1.0, input_scale=0.5)
    g = torch.Generator().manual_seed(5)
    theta = (0.5 * torch.randn(1, pol.num_params, generator=g, dtype=torch.float64)).requires_grad_(True)
    xs = torch.randn(8, 1, 2, 2, generator=g, dtype=torch.float64)
    loss = last_output_loss(pol, xs)
    loss(theta).backward()
    assert torch.allclose(theta.grad, central_differences(loss, theta.detach()), atol=1e-7, rtol=1e-5)
    # the last output still depends on the first input (through the cells, not the skip)
    x0 = xs.clone().requires_grad_(True)
    loss(theta.detach(), x0).backward()
    assert x0.grad[0].abs().sum() > 0


def test_make_policy_skip_and_input_bias_specs():
    pol = make_policy("lstm:hidden=4,forget_bias=5,input_bias=-5,skip=true", (3,), 4)
    assert pol.skip and pol.input_bias == -5.0 and pol.feature_size == 7
    assert "skip" in pol.describe()
    assert not make_policy("lstm:hidden=4", (3,), 4).skip


# ---- the fully recurrent tanh net (dps/policies/rnn.py) ------------------------------------


def reference_rnn(row, pol, xs):
    """Plain per-step Elman net for one member and one sequence, float64."""
    h = torch.zeros(pol.hidden, dtype=torch.float64)
    W = row[pol.layout["W"][0]].reshape(pol.layout["W"][1])
    b = row[pol.layout["b"][0]]
    Wo = row[pol.layout["W_out"][0]].reshape(pol.layout["W_out"][1])
    bo = row[pol.layout["b_out"][0]]
    outs = []
    for x in xs:
        x = x * pol.input_scale
        h = torch.tanh(torch.cat([x, h]) @ W + b)
        f = torch.cat([h, x]) if pol.skip else h
        outs.append(f @ Wo + bo)
    return torch.stack(outs)


@pytest.mark.parametrize("skip,scale", [(False, 1.0), (True, 10.0)])
def test_rnn_matches_plain_reference_param_count_and_reset(skip, scale):
    pol = RNNPolicy((3,), 2, hidden=4, input_scale=scale, skip=skip)
    assert pol.num_params == (3 + 4) * 4 + 4 + (4 + 3 * skip) * 2 + 2
    g = torch.Generator().manual_seed(1)
    P, B, T = 3, 2, 6
    params = torch.randn(P, pol.num_params, generator=g, dtype=torch.float64) * 0.5
    xs = torch.randn(T, P, B, 3, generator=g, dtype=torch.float64) * 0.3
    state = pol.initial_state(P, B, dtype=torch.float64)
    outs = []
    for t in range(T):
        o, state = pol.step(params, xs[t], state)
        outs.append(o)
    outs = torch.stack(outs)
    for p in range(P):
        for b in range(B):
            torch.testing.assert_close(outs[:, p, b], reference_rnn(params[p], pol, xs[:, p, b]), atol=1e-12, rtol=0)
    # reset convention: episode_start slot == a fresh state, the other slot continues
    start = torch.zeros(P, B, dtype=torch.bool)
    start[1, 0] = True
    o_reset, _ = pol.step(params, xs[0], state, episode_start=start)
    o_fresh, _ = pol.step(params, xs[0], pol.initial_state(P, B, dtype=torch.float64))
    o_cont, _ = pol.step(params, xs[0], state)
    assert torch.equal(o_reset[1, 0], o_fresh[1, 0]) and torch.equal(o_reset[0], o_cont[0])
    assert not torch.allclose(o_reset[1, 0], o_cont[1, 0])


def test_make_policy_rnn_spec_and_bad_input():
    pol = make_policy("rnn:hidden=5,skip=true,input_scale=10", (3,), 1)
    assert isinstance(pol, RNNPolicy) and pol.hidden == 5 and pol.skip and pol.input_scale == 10
    assert pol.num_params == (3 + 5) * 5 + 5 + 8 + 1
    with pytest.raises(ValueError, match="hidden >= 1"):
        RNNPolicy((3,), 1, hidden=0)


@pytest.mark.parametrize("kw", [{}, {"layers": 2, "hidden": 3}, {"skip": True, "input_scale": 10.0},
                                {"fast_tanh": True, "forget_bias": 5.0, "input_bias": -5.0}])
def test_lstm_sequence_matches_the_step_loop(kw):
    """The fused whole-sequence path (torch.lstm) gives the step loop's outputs and
    gradients, up to rounding."""
    from dps.policies import LSTMPolicy
    pol = LSTMPolicy((2, 2), 3, **{"hidden": 5, **kw})
    g = torch.Generator().manual_seed(0)
    theta = (pol.init_params(g) + 0.3 * torch.randn(pol.num_params, generator=g)).double().requires_grad_()
    obs = torch.randn(9, 4, 2, 2, generator=g, dtype=torch.float64)
    state, outs = pol.initial_state(1, 4, dtype=torch.float64), []
    for t in range(9):
        o, state = pol.step(theta.unsqueeze(0), obs[t].unsqueeze(0), state)
        outs.append(o[0])
    loop = torch.stack(outs)
    fused = pol.sequence(theta.unsqueeze(0), obs)
    assert fused.shape == (9, 4, 3)
    assert torch.allclose(fused, loop, atol=1e-12)
    w = torch.randn(9, 4, 3, generator=g, dtype=torch.float64)
    (g_loop,) = torch.autograd.grad((loop * w).sum(), theta)
    (g_fused,) = torch.autograd.grad((fused * w).sum(), theta)
    assert torch.allclose(g_fused, g_loop, atol=1e-12)
    assert float(g_fused.abs().max()) > 0


def test_lstm_sequence_declines_what_it_cannot_do():
    from dps.policies import LSTMPolicy
    obs = torch.zeros(3, 2, 4)
    peep = LSTMPolicy(4, 2, peepholes=True)
    assert peep.sequence(torch.zeros(1, peep.num_params), obs) is None
    pol = LSTMPolicy(4, 2)
    assert pol.sequence(torch.zeros(2, pol.num_params), obs) is None       # one parameter vector only

    class Custom(LSTMPolicy):
        def step(self, params, obs, state, episode_start=None):
            return super().step(params, obs * 2, state, episode_start)
    assert Custom(4, 2).sequence(torch.zeros(1, pol.num_params), obs) is None


@pytest.mark.parametrize("which", ["mlp", "mdlstm"])
def test_memoryless_sequence_is_one_batch(which):
    """Policies without state replay a sequence as one batch of T·B observations."""
    from dps.policies.mdlstm import MDLSTMPolicy
    pol = MLPPolicy((3,), 2, hidden=(6,)) if which == "mlp" else MDLSTMPolicy((2, 4, 4), 16, 2, "lstm")
    g = torch.Generator().manual_seed(1)
    theta = torch.randn(1, pol.num_params, generator=g, dtype=torch.float64).requires_grad_()
    obs = torch.randn(5, 3, *pol.obs_shape, generator=g, dtype=torch.float64)
    loop = torch.stack([pol.step(theta, obs[t].unsqueeze(0), ())[0][0] for t in range(5)])
    fused = pol.sequence(theta, obs)
    assert fused.shape == loop.shape and torch.allclose(fused, loop, atol=1e-12)
    (ga,) = torch.autograd.grad(fused.sum(), theta)
    (gb,) = torch.autograd.grad(loop.sum(), theta)
    assert torch.allclose(ga, gb, atol=1e-10)
    assert pol.sequence(theta.detach().expand(2, -1), obs) is None     # one parameter vector only


def test_lstm_chrono_init_spreads_forgetting_times_and_is_exclusive():
    from dps.errors import UserError
    from dps.policies import make_policy
    T, H = 200, 64
    pol = make_policy(f"lstm:hidden={H},layers=2,chrono={T}", (3,), 2)
    a = pol.init_params(torch.Generator().manual_seed(5))
    b = pol.init_params(torch.Generator().manual_seed(5))
    assert torch.equal(a, b)  # drawn from the init generator only
    for layer in range(2):
        sl, _ = pol.layout[f"b{layer}"]
        bias = a[sl]
        i_b, f_b = bias[:H], bias[H:2 * H]
        assert torch.allclose(i_b, -f_b)
        # forget bias log(u), u ~ U(1, T-1): forgetting time 1 / (1 - sigmoid(b_f)) = 1 + u in [2, T]
        tau = 1.0 / (1.0 - torch.sigmoid(f_b.double()))
        assert float(tau.min()) >= 2.0 - 1e-4 and float(tau.max()) <= T + 1e-3
        assert float(tau.max()) > T / 4  # spread, not clustered at small times
    plain = make_policy(f"lstm:hidden={H}", (3,), 2).init_params(torch.Generator().manual_seed(5))
    sl, _ = pol.layout["b0"]
    assert not torch.allclose(plain[sl][H:2 * H], a[sl][H:2 * H])
    assert "chrono" in pol.describe()
    for bad, needle in (("chrono=2", "at least 3"), ("chrono=50,forget_bias=3", "cannot be combined"),
                        ("chrono=50,input_bias=-1", "cannot be combined"), ("chrono=-1", "chrono")):
        with pytest.raises(UserError, match=needle):
            make_policy(f"lstm:hidden=4,{bad}", (3,), 2)


def _fold_input_scale(pol, params, scale):
    """``params`` of a policy with input_scale 1 that computes what ``pol`` (per-input
    ``scale``) computes on ``params``: each input's rows of the first layer's weights and of
    the readout's skip part multiplied by its factor."""
    out = params.clone()
    n = len(scale)
    first = "W0" if "W0" in pol.layout else "W"
    sl, shape = pol.layout[first]
    W = out[:, sl].view(-1, *shape)
    W[:, :n] *= torch.tensor(scale, dtype=params.dtype).unsqueeze(-1)
    if pol.skip:
        sl, shape = pol.layout["W_out"]
        Wo = out[:, sl].view(-1, *shape)
        Wo[:, pol.hidden:] *= torch.tensor(scale, dtype=params.dtype).unsqueeze(-1)
    return out


@pytest.mark.parametrize("spec", ["lstm:hidden=4,skip=true", "lstm:hidden=3,layers=2,peepholes=true",
                                  "lstm:hidden=5", "rnn:hidden=4,skip=true"])
def test_per_input_scale_equals_folding_the_factors_into_the_input_weights(spec):
    """input_scale=a+b+c multiplies input k by its own factor: the same network as scale 1
    with input k's weights (first layer, and the skip path's readout rows) times factor k —
    on every path a step can take (C kernel or torch, the whole-sequence call)."""
    scale = (0.5, 1.5, 3.0)
    pol = make_policy(f"{spec},input_scale=0.5+1.5+3", (3,), 2)
    plain = make_policy(spec, (3,), 2)
    assert pol.input_scale == scale and pol.num_params == plain.num_params
    g = torch.Generator().manual_seed(4)
    P, B, T = 3, 5, 7
    params = torch.randn(P, pol.num_params, generator=g, dtype=torch.float64)
    folded = _fold_input_scale(pol, params, scale)
    xs = torch.randn(T, P, B, 3, generator=g, dtype=torch.float64)
    s1, s2 = pol.initial_state(P, B, dtype=torch.float64), plain.initial_state(P, B, dtype=torch.float64)
    outs = []
    for t in range(T):
        o1, s1 = pol.step(params, xs[t], s1)
        o2, s2 = plain.step(folded, xs[t], s2)
        torch.testing.assert_close(o1, o2, atol=1e-12, rtol=1e-12)
        outs.append(o1)
    seq = pol.sequence(params[:1], xs[:, 0]) if hasattr(pol, "sequence") else None
    if seq is not None:
        torch.testing.assert_close(seq, torch.stack(outs)[:, 0], atol=1e-12, rtol=1e-12)


def test_one_input_scale_for_all_inputs_is_the_single_number():
    """A spec's one number and the same number written for every input give the same outputs;
    the option keeps its form (a number, or a tuple for one per input)."""
    one = make_policy("lstm:hidden=4,skip=true,input_scale=2", (3,), 1)
    each = make_policy("lstm:hidden=4,skip=true,input_scale=2+2+2", (3,), 1)
    assert one.input_scale == 2.0 and each.input_scale == (2.0, 2.0, 2.0)
    g = torch.Generator().manual_seed(5)
    params = torch.randn(2, one.num_params, generator=g)
    obs = torch.randn(2, 3, 3, generator=g)
    a, _ = one.step(params, obs, one.initial_state(2, 3))
    b, _ = each.step(params, obs, each.initial_state(2, 3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("value,match", [("1+2", "2 numbers for 3 inputs"), ("0", "finite numbers > 0"),
                                         ("1+-1+1", "finite numbers > 0"), ("nan", "finite number"),
                                         ("x", "a number")])
def test_bad_input_scale_is_refused_in_one_line(value, match):
    for name in ("lstm", "rnn"):
        with pytest.raises(UserError, match=match) as e:
            make_policy(f"{name}:hidden=2,input_scale={value}", (3,), 1)
        assert "\n" not in str(e.value)
