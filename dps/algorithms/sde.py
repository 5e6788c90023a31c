"""State-dependent exploration (SDE) for continuous actions.

Rückstieß, Felder, Schmidhuber, *State-Dependent Exploration for Policy Gradient Methods*,
ECML 2008 (review: Paladyn 1(1):14–24, 2010). Instead of independent per-step noise, an
exploration matrix is drawn **once per episode**::

    Θ̂_ij ~ N(0, σ̂_ij²)            Θ̂: (feature_size F, action_dim A), learned log σ̂
    u    = f(s) + sᵀ Θ̂             f(s): the policy's deterministic pre-squash output

so within an episode the same features ``s`` always give the same action (exploration is
a deterministic function of the state, as in parameter-space exploration). ``s`` are the
recurrent policy's hidden features (``policy.features``), ``f(s) = policy.readout(s)``.

Since ``sᵀΘ̂`` is a sum of independent Gaussians, each action component is marginally

    u_j ~ N(f_j(s), Σ_i s_i² σ̂_ij²)                                     (Rückstieß 2008, §3)

and this marginal log-likelihood (exact for one step; the product over the steps of one
episode is the per-step approximation the paper uses, because Θ̂ is shared across them)
drives the likelihood-ratio gradient w.r.t. the policy parameters *and* log σ̂.
The action applied to the env is the head's squash of ``u`` (see
:class:`dps.policies.heads.BoxHead`), whose Jacobian does not depend on the parameters.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

#: added to the marginal variance so that all-zero features keep a finite likelihood
VAR_EPS = 1e-8


def draw_theta(log_sigma: torch.Tensor, B: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One exploration matrix per episode: ``Θ̂ (B, F, A)``, ``Θ̂_ij ~ N(0, σ̂_ij²)``.

    :param log_sigma: ``(F, A)`` learned log σ̂
    :param B: number of episodes
    """
    eps = torch.randn((B, *log_sigma.shape), generator=generator, device=log_sigma.device,
                      dtype=log_sigma.dtype)
    return eps * log_sigma.detach().exp()


def sde_action(out: torch.Tensor, feats: torch.Tensor, theta_hat: torch.Tensor) -> torch.Tensor:
    """Pre-squash action ``u = f(s) + sᵀΘ̂``.

    :param out: ``(..., B, A)`` the deterministic output f(s)
    :param feats: ``(..., B, F)`` the features s
    :param theta_hat: ``(B, F, A)`` this episode's exploration matrix
    """
    return out + torch.einsum("...bf,bfa->...ba", feats, theta_hat)


def sde_variance(feats: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Marginal variance ``Σ_i s_i² σ̂_ij²`` of each action component, ``(..., A)``."""
    return (feats * feats) @ (2 * log_sigma).exp() + VAR_EPS


def sde_log_prob(u: torch.Tensor, out: torch.Tensor, feats: torch.Tensor,
                 log_sigma: torch.Tensor) -> torch.Tensor:
    """``log N(u; f(s), diag(Σ_i s_i² σ̂_ij²))`` summed over action components, ``(..., B)``."""
    var = sde_variance(feats, log_sigma)
    z2 = (u - out) ** 2 / var
    return (-0.5 * z2 - 0.5 * var.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def sde_entropy(feats: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Entropy of the marginal Gaussian, ``(..., B)``."""
    var = sde_variance(feats, log_sigma)
    return (0.5 * (2 * math.pi * math.e * var).log()).sum(-1)
