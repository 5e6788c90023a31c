"""The shared policy interface.

A policy is a *pure function of a population of flat parameter vectors*: it owns no
weights. ``params`` is ``(P, D)``; row p drives the B episodes of member p. Per-member
weights are views of the flat rows, and the computation is batched over members with
``bmm``/``baddbmm`` (never a Python loop over members). With ``P = 1`` and a ``params``
tensor that ``requires_grad``, the same code gives BPTT gradients (used by RPG).

Interface::

    num_params                       D
    initial_state(P, B, device)      recurrent state, a tuple of (P, B, ·) tensors
    step(params, obs, state, episode_start=None) -> (out (P, B, out_size), state)
    init_params(generator, scale)    an initial (D,) vector

**Reset convention** (stated once, here, and tested in ``tests/test_policies.py``): the
state passed to ``step`` is the state after the previous step of the *same slot*. Where
``episode_start[p, b]`` is True, the slot's state is replaced by the initial (zero) state
before it is used — ``h * (1 - episode_start)``, computed without in-place writes — so a
slot whose new episode begins mid-batch behaves exactly like a fresh one. The rollout
engine starts every episode from ``initial_state``; ``episode_start`` is for callers that
pack several episodes into one sequence (RPG's truncated BPTT, gymnasium auto-reset).

Policies with features (LSTM, MLP) also expose ``features(...)`` (the last hidden layer,
``(P, B, feature_size)``) and ``readout(params, features)``, so that Evolino can fit the
linear readout analytically and SDE can explore on the hidden features. ``layout`` maps
each named parameter block to ``(slice, shape)`` in the flat vector.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from ..errors import UserError

State = tuple  # tuple of tensors, possibly empty


class Policy:
    num_params: int
    obs_shape: tuple[int, ...]
    out_size: int
    #: name -> (slice into the flat vector, shape of the block)
    layout: dict

    def initial_state(self, P: int, B: int, device=None, dtype=torch.float32) -> State:
        return ()

    def step(self, params: torch.Tensor, obs: torch.Tensor, state: State,
             episode_start: Optional[torch.Tensor] = None):
        raise NotImplementedError

    def sequence(self, params: torch.Tensor, obs: torch.Tensor) -> Optional[torch.Tensor]:
        """Outputs ``(T, B, out_size)`` of a whole observation sequence ``obs (T, B, ...)``
        from the initial state, for one parameter vector ``params (1, D)``, in one fused
        call (what :meth:`step` gives step by step, up to rounding), or None where a policy
        has no such path. RPG's replay with autograd uses it.

        A memoryless policy (empty state: MLP, linear, the MDLSTM board player) evaluates
        all T·B observations as one batch; recurrent policies override this or return None."""
        if params.shape[0] != 1 or len(self.initial_state(1, 1)) != 0:
            return None
        T, B = obs.shape[:2]
        out, _ = self.step(params, obs.reshape(1, T * B, *obs.shape[2:]), ())
        return out.reshape(T, B, *out.shape[2:])

    def init_params(self, generator: Optional[torch.Generator] = None, scale: float = 1.0,
                    dtype=torch.float32) -> torch.Tensor:
        """A fan-in scaled random vector (``scale`` multiplies it); zeros when scale=0."""
        D = self.num_params
        out = torch.zeros(D, dtype=dtype)
        if scale == 0:
            return out
        for name, (sl, shape) in self.layout.items():
            n = sl.stop - sl.start
            if name.startswith("W") and len(shape) == 2:
                bound = scale / math.sqrt(shape[0])
                out[sl] = (torch.rand(n, generator=generator, dtype=dtype) * 2 - 1) * bound
        return out

    def block(self, params: torch.Tensor, name: str) -> torch.Tensor:
        """The ``(P, *shape)`` view of one named parameter block."""
        sl, shape = self.layout[name]
        # narrow + view: the same view as params[:, sl].reshape(...) at half the fixed cost
        # (called a few times per policy step, on small batches)
        part = params.narrow(1, sl.start, sl.stop - sl.start)
        if params.stride(1) == 1:
            return part.view(params.shape[0], *shape)
        return part.reshape(params.shape[0], *shape)

    def describe(self) -> str:
        return f"{type(self).__name__}({self.num_params} params)"


class Layout:
    """Builder of a flat parameter layout: ``add(name, shape)`` in order."""

    def __init__(self):
        self.blocks: dict = {}
        self.size = 0

    def add(self, name: str, *shape: int) -> None:
        n = math.prod(shape)
        self.blocks[name] = (slice(self.size, self.size + n), tuple(shape))
        self.size += n


class InputScale:
    """The factor a recurrent policy multiplies its flattened observation by (``input_scale``):
    one number for every input, or one per input. It is a reparameterisation: a searcher
    whose steps are equal in every weight explores an input's weights ``s`` times more
    widely in the input's own units when that input is scaled by ``s``. One per input lets
    inputs of different typical size (the double pole's cart position and its small pole
    angles, docs/POLE.md) be explored at their own scale.

    ``value``: the option as given, a float (one number) or a tuple of floats (one per
    input); ``vector``: ``(n_obs,)`` float64 factors; ``uniform``: the one factor where all
    are equal (then inputs are multiplied by a Python float, as the single number always
    was), else None."""

    def __init__(self, value, n_obs: int, what: str = "input_scale"):
        items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        if len(items) not in (1, n_obs):
            raise UserError(f"bad value {value!r} for {what}: {len(items)} numbers for {n_obs} inputs; accepted: "
                            f"one number, or one per input ({n_obs}) written a+b+c")
        scale = []
        for v in items:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not v > 0:
                raise UserError(f"bad value {v!r} for {what}; accepted: finite numbers > 0")
            scale.append(float(v))
        self.value = scale[0] if len(scale) == 1 else tuple(scale)
        self.vector = torch.tensor(scale * (n_obs if len(scale) == 1 else 1), dtype=torch.float64)
        self.uniform = scale[0] if len(set(scale)) == 1 else None
        self._placed: dict = {}  # the factors per (device, dtype), made once: __call__ runs every step

    def __reduce__(self):
        # rebuilt from the option: a pickled policy is the same bytes for the same options
        return InputScale, (self.value, len(self.vector))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x (..., n_obs)`` times the factors (``x`` itself where they are all 1)."""
        if self.uniform is not None:
            return x if self.uniform == 1.0 else x * self.uniform
        return x * self.factors(x.device, x.dtype)

    def factors(self, device, dtype: torch.dtype) -> torch.Tensor:
        """:attr:`vector` on ``device`` in ``dtype``, made once per pair (the C kernels take
        them in the parameters' dtype)."""
        key = (torch.device(device), dtype)
        out = self._placed.get(key)
        if out is None:
            out = self._placed[key] = self.vector.to(device, dtype)
        return out


def flat_obs(obs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``obs (P, B, ...)`` as ``(P, B, n_obs)`` in ``dtype`` (no op when it already is)."""
    if obs.dim() != 3:
        obs = obs.reshape(obs.shape[0], obs.shape[1], -1)
    return obs if obs.dtype == dtype else obs.to(dtype)


def reset_where(x: torch.Tensor, episode_start: Optional[torch.Tensor]) -> torch.Tensor:
    """``x * (1 - episode_start)`` broadcast over trailing dims (no in-place write)."""
    if episode_start is None:
        return x
    keep = (~episode_start).to(x.dtype)
    return x * keep.reshape(*keep.shape, *([1] * (x.dim() - keep.dim())))


def batched_linear(x: torch.Tensor, W: torch.Tensor, b: Optional[torch.Tensor]) -> torch.Tensor:
    """``x (P, B, i) @ W (P, i, o) + b (P, o)`` as one ``baddbmm``/``bmm``."""
    if b is None:
        return torch.bmm(x, W)
    return torch.baddbmm(b.unsqueeze(1), x, W)
