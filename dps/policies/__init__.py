"""Policies on one interface (see :mod:`dps.policies.base`) and their registry."""
from __future__ import annotations

import importlib

from ..errors import unknown
from ..spec import Spec, bind_spec, describe_options, parse_spec
from .base import Policy, reset_where
from .heads import BoxHead, DiscreteHead, make_head
from .lstm import LSTMPolicy
from .mlp import LinearPolicy, MLPPolicy
from .rnn import RNNPolicy

#: name -> ("module:Class", summary)
POLICIES = {
    "lstm": ("dps.policies.lstm:LSTMPolicy", "LSTM, 1+ layers, optional peepholes"),
    "mlp": ("dps.policies.mlp:MLPPolicy", "feed-forward tanh MLP (no memory)"),
    "linear": ("dps.policies.mlp:LinearPolicy", "linear map (no memory)"),
    "rnn": ("dps.policies.rnn:RNNPolicy", "fully recurrent tanh (Elman) net, the neuroevolution classic"),
    "mdlstm": ("dps.policies.mdlstm:MDLSTMPolicy",
               "four-sweep 2-D MDRNN/MDLSTM board player, weights shared over positions (Atari-Go)"),
}


def _load(name: str):
    if name not in POLICIES:
        raise unknown("policy", name, POLICIES)
    module, _, attr = POLICIES[name][0].partition(":")
    return getattr(importlib.import_module(module), attr)


def make_policy(spec: "str | Spec", obs_shape, out_size: int) -> Policy:
    """Build a policy from a spec such as ``"lstm:hidden=16,layers=2"``."""
    if isinstance(spec, str):
        spec = parse_spec(spec, "policy")
    cls = _load(spec.name)
    kwargs = bind_spec(spec, cls, "policy")
    return cls(obs_shape, out_size, **kwargs)


def describe_policies() -> list[str]:
    lines = []
    for name, (_, summary) in POLICIES.items():
        try:
            opts = describe_options(_load(name))
        except Exception as exc:
            opts = f"(unavailable: {exc})"
        lines.append(f"{name:<8} {summary}  options: {opts}")
    return lines


__all__ = ["Policy", "LSTMPolicy", "MLPPolicy", "LinearPolicy", "RNNPolicy", "DiscreteHead", "BoxHead",
           "make_head", "make_policy", "describe_policies", "POLICIES", "reset_where"]
