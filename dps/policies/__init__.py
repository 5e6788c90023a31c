"""Policies on one interface (see :mod:`dps.policies.base`) and their registry."""
from __future__ import annotations

from ..registry import Registry
from ..spec import Spec
from .base import Policy, reset_where
from .heads import BoxHead, DiscreteHead, MultiDiscreteHead, make_head
from .lstm import LSTMPolicy
from .mlp import LinearPolicy, MLPPolicy
from .rnn import RNNPolicy

POLICIES = Registry("policy")
POLICIES.add("lstm", "dps.policies.lstm:LSTMPolicy", "LSTM, 1+ layers, optional peepholes")
POLICIES.add("mlp", "dps.policies.mlp:MLPPolicy", "feed-forward tanh MLP (no memory)")
POLICIES.add("linear", "dps.policies.mlp:LinearPolicy", "linear map (no memory)")
POLICIES.add("rnn", "dps.policies.rnn:RNNPolicy", "fully recurrent tanh (Elman) net, the neuroevolution classic")
POLICIES.add("mdlstm", "dps.policies.mdlstm:MDLSTMPolicy",
             "four-sweep 2-D MDRNN/MDLSTM board player, weights shared over positions (Atari-Go)")


def make_policy(spec: "str | Spec", obs_shape, out_size: int) -> Policy:
    """Build a policy from a spec such as ``"lstm:hidden=16,layers=2"``."""
    return POLICIES.build(spec, obs_shape, out_size)


__all__ = ["POLICIES", "BoxHead", "DiscreteHead", "MultiDiscreteHead", "LSTMPolicy", "LinearPolicy", "MLPPolicy",
           "Policy", "RNNPolicy", "make_head", "make_policy", "reset_where"]
