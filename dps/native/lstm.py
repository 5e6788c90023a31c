"""The C kernels of ``kernels.c`` called on torch tensors: one LSTM step, and whole
cart-pole episodes of an LSTM policy."""
from __future__ import annotations

import ctypes
from typing import Optional, Sequence

import torch

from . import library

_i64, _ptr = ctypes.c_int64, ctypes.c_void_p
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_POLICY_ARGS = [_i64, _i64, _i64, _ptr, _i64, _i64, _i64, _ptr, ctypes.c_int, _i64]


class CartPoleConst(ctypes.Structure):
    """``cp_const`` of ``cartpole.h``."""
    _fields_ = [("poles", ctypes.c_int), ("gym", ctypes.c_int),
                ("c_fric", ctypes.c_double * 2), ("c_ml", ctypes.c_double * 2),
                ("c_3m4", ctypes.c_double * 2), ("c_l", ctypes.c_double * 2), ("c_mass", ctypes.c_double),
                ("g", ctypes.c_double), ("tau", ctypes.c_double), ("rk4_tau", ctypes.c_double),
                ("gravity", ctypes.c_double), ("rk4_steps", ctypes.c_int),
                ("gm_mp", ctypes.c_double), ("gm_mc", ctypes.c_double), ("gm_l", ctypes.c_double)]


def _func(kind: str, dtype: torch.dtype):
    if dtype not in _SUFFIX:
        return None
    lib = library("kernels")
    if lib is None:
        return None
    suffix = _SUFFIX[dtype]
    f = getattr(lib, f"dps_{kind}_{suffix}")
    if f.argtypes is None:
        if kind == "lstm_step":
            f.restype = None
            f.argtypes = _POLICY_ARGS + [_ptr] * 8
        else:
            f.restype = ctypes.c_int
            f.argtypes = (_POLICY_ARGS + [_ptr, ctypes.POINTER(CartPoleConst), ctypes.c_int]
                          + [_ptr] * 4 + [ctypes.c_int, _ptr, _i64, _i64] + [_ptr] * 4)
    return f


def _work(hidden: int, n_in: int, dtype: torch.dtype, extra: int = 0) -> torch.Tensor:
    return torch.empty(4 * (4 * hidden + n_in) + extra, dtype=dtype)  # WORK of lstm_step.h


def lstm_step(params: torch.Tensor, x: torch.Tensor, state: Sequence[torch.Tensor], offsets: torch.Tensor,
              hidden: int, skip: bool, n_out: int, input_scale: torch.Tensor) -> Optional[tuple]:
    """One step for ``params (P, D)``, inputs ``x (P, B, n_in)`` and the state ``(h_0, c_0,
    h_1, c_1, …)`` each ``(P, B, H)``, all contiguous CPU tensors of one float dtype;
    ``offsets``: int64 block offsets (``lstm_step.h``); ``input_scale``: the ``(n_in,)``
    factors of the inputs, in that dtype. Returns ``(out (P, B, n_out), new
    state)``, or None when the kernel is not available."""
    f = _func("lstm_step", params.dtype)
    if f is None:
        return None
    P, B, n_in = x.shape
    L = len(state) // 2
    new = [torch.empty_like(s) for s in state]
    out = torch.empty(P, B, n_out, dtype=params.dtype)
    work = _work(hidden, n_in, params.dtype)  # held until the call returns
    arr = ctypes.c_void_p * L
    f(P, B, params.shape[1], params.data_ptr(), n_in, hidden, L, offsets.data_ptr(), int(skip), n_out,
      input_scale.data_ptr(), x.data_ptr(),
      arr(*[s.data_ptr() for s in state[0::2]]), arr(*[s.data_ptr() for s in state[1::2]]),
      arr(*[s.data_ptr() for s in new[0::2]]), arr(*[s.data_ptr() for s in new[1::2]]), out.data_ptr(),
      work.data_ptr())
    return out, tuple(new)


def lstm_cartpole(params: torch.Tensor, policy: dict, env: dict, q0: torch.Tensor, B: int,
                  steps: int) -> Optional[tuple]:
    """Whole episodes (``lstm_cartpole.h``) from the internal-order states ``q0 (P, B, nq)``
    (float64); ``policy``: :meth:`~dps.policies.lstm.LSTMPolicy.native_spec`'s dict (its
    ``input_scale`` holds the inputs' factors per dtype): ``(returns (P, B), lengths (P, B),
    success (P, B) bool)``, or None when the
    kernel is not available or an output tie / NaN needs the torch loop."""
    f = _func("lstm_cartpole", params.dtype)
    if f is None:
        return None
    P = params.shape[0]
    H, L, n_obs, n_out = policy["hidden"], policy["layers"], env["n_obs"], policy["n_out"]
    returns = torch.empty(P, B, dtype=params.dtype)
    lengths = torch.empty(P, B, dtype=torch.int64)
    success = torch.empty(P, B, dtype=torch.uint8)
    work = _work(H, n_obs, params.dtype, extra=4 * L * 4 * H + 4 * n_obs + 4 * n_out)
    q0 = q0.to(torch.float64).contiguous()
    status = f(P, B, params.shape[1], params.data_ptr(), n_obs, H, L, policy["offsets"].data_ptr(),
               int(policy["skip"]), n_out, policy["input_scale"][params.dtype].data_ptr(), ctypes.byref(env["const"]),
               int(env["discrete"]), q0.data_ptr(), env["obs_index"].data_ptr(), env["obs_scale"].data_ptr(),
               env["bounds"].data_ptr(), int(env["damping"]), env["jiggle_index"].data_ptr(), env["max_steps"],
               steps, returns.data_ptr(), lengths.data_ptr(),
               success.data_ptr(), work.data_ptr())
    if status != 0:
        return None
    return returns, lengths, success.bool()
