"""Returns and baselines for recurrent policy gradients.

Wierstra, Förster, Peters, Schmidhuber, *Recurrent policy gradients*, Logic J. IGPL
18(5):620–634, 2010 (ICANN 2007: *Solving deep memory POMDPs with RPG*). The estimator is

    ∇θ J ≈ (1/M) Σ_m Σ_t ∇θ log π(a_t^m | h_t^m) (R_t^m − b_t^m),
    R_t = Σ_{τ≥t} γ^{τ−t} r_τ                                          (returns-to-go)

Any ``b_t`` that does not depend on the action a_t (nor on anything drawn after it) leaves
the estimator unbiased, since E[∇ log π(a_t|h_t) | h_t] = 0. The baselines here:

* ``none``     b_t = 0.
* ``moving``   b = exponential moving average of the batches' mean return R_0, updated
  *after* each update (so the current batch's b comes from earlier batches only).
* ``time``     b_t^m = mean of R_t^{m'} over the *other* episodes m' ≠ m still running at
  t (leave-one-out). Including m itself would correlate b with a_t^m and bias the
  estimator by O(1/M); leaving it out keeps it exactly unbiased.
* ``value``    the history-dependent baseline of the 2010 paper: b_t = V(h_t), a second
  LSTM regressing R_t from the same observation history o_0..o_t, trained alongside
  by MSE (:class:`ValueNet`); b is evaluated *before* V is fitted on the batch and is
  detached in the policy gradient.
* ``bootstrap`` K-step bootstrapped returns with that value net (the variance/memory
  trade-off of the RPG lecture notes): R_t^{(K)} = Σ_{k<K} γ^k r_{t+k} + γ^K V(h_{t+K}),
  with baseline V(h_t). This one is *biased* unless V is exact (it is the only one
  excluded from the unbiasedness test); with K ≥ episode length it equals ``value``.
"""
from __future__ import annotations

from typing import Optional

import torch

BASELINES = ("none", "moving", "time", "value", "bootstrap")


def returns_to_go(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``R_t = r_t + γ R_{t+1}`` over ``rewards (T, B)`` (already zero after termination)."""
    # in place, row by row (one or two kernels a step, the loop's cost for long episodes);
    # γ·R_{t+1} is rounded before r_t is added, as in r_t + γ·R_{t+1} (exact for γ = 1)
    T = rewards.shape[0]
    R = torch.empty_like(rewards)
    if T == 0:
        return R
    R[T - 1] = rewards[T - 1]
    for t in range(T - 2, -1, -1):
        if gamma == 1.0:
            torch.add(rewards[t], R[t + 1], out=R[t])
        else:
            torch.mul(R[t + 1], gamma, out=R[t]).add_(rewards[t])
    return R


def time_baseline(R: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
    """Leave-one-out per-time-step mean return ``b_t^m`` (T, B); 0 where no other episode
    is running at t."""
    a = alive.to(R.dtype)
    total = (R * a).sum(1, keepdim=True)
    count = a.sum(1, keepdim=True)
    others = count - a
    return torch.where(others > 0, (total - R * a) / others.clamp_min(1), torch.zeros_like(R))


def bootstrap_returns(R: torch.Tensor, alive: torch.Tensor, values: torch.Tensor,
                      gamma: float, K: int) -> torch.Tensor:
    """``R_t^{(K)} = R_t − γ^K R_{t+K} + γ^K alive_{t+K} V_{t+K}`` (T, B); beyond the
    recorded horizon R and V are 0 (the episode had ended or was cut there)."""
    T = R.shape[0]
    if K >= T:
        return R
    gK = gamma ** K
    tail_R = torch.cat([R[K:], torch.zeros_like(R[:K])], 0)
    tail_V = torch.cat([values[K:] * alive[K:].to(R.dtype), torch.zeros_like(R[:K])], 0)
    return R - gK * tail_R + gK * tail_V


class ValueNet:
    """History-dependent baseline V(h_t): an LSTM over o_0..o_t with one linear output,
    trained by Adam on the masked MSE to the returns-to-go (Wierstra et al. 2010, §4).

    :param policy: an :class:`~dps.policies.lstm.LSTMPolicy` with ``out_size == 1`` (any
        policy of the shared interface works)
    :param lr: Adam step size
    :param generator: initialisation randomness
    """

    def __init__(self, policy, lr: float, generator: Optional[torch.Generator] = None,
                 device=None, dtype=torch.float32):
        self.net = policy
        self.params = policy.init_params(generator, 1.0, dtype).to(device).requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.params], lr=lr)

    def predict(self, obs: torch.Tensor) -> torch.Tensor:
        """``V (T, B)`` for an observation sequence ``obs (T, B, ...)`` (with autograd)."""
        params = self.params.unsqueeze(0)
        T, B = obs.shape[:2]
        state = self.net.initial_state(1, B, device=obs.device, dtype=params.dtype)
        out = []
        for t in range(T):
            v, state = self.net.step(params, obs[t].unsqueeze(0), state)
            out.append(v[0, :, 0])
        return torch.stack(out)

    def fit(self, values: torch.Tensor, targets: torch.Tensor, alive: torch.Tensor) -> float:
        """One Adam step on ``Σ alive (V − R)² / Σ alive`` from predictions ``values`` that
        still carry their graph; returns the loss."""
        a = alive.to(values.dtype)
        loss = ((values - targets.detach()) ** 2 * a).sum() / a.sum().clamp_min(1)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def state_dict(self) -> dict:
        return {"params": self.params.detach().clone(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, sd: dict) -> None:
        with torch.no_grad():
            self.params.copy_(sd["params"])
        self.optimizer.load_state_dict(sd["optimizer"])
