"""The linear readout fitted by least squares, shared by Evolino (on its evolved LSTM's
features) and the echo state network baseline (on its reservoir states)."""
from __future__ import annotations

import torch


def fit_readout(feats: torch.Tensor, targets: torch.Tensor, ridge: float = 0.0):
    """Least-squares readout for every row at once: ``(W (P, H, k), b (P, k))``.

    ``feats (P, N, H)``, ``targets (N, k)`` or ``(P, N, k)``. With Φ = [feats, 1] the solution
    is ``pinv(Φ) D`` (NC 2007, eq. 3; the minimum-norm least-squares solution), or with
    ``ridge`` ρ > 0 ``(ΦᵀΦ + ρ I)⁻¹ Φᵀ D`` (the bias column is regularised too).
    """
    P, N, H = feats.shape
    Phi = torch.cat([feats, torch.ones(P, N, 1, dtype=feats.dtype, device=feats.device)], -1)
    D = targets.to(feats.dtype)
    if D.dim() == 2:
        D = D.unsqueeze(0).expand(P, *D.shape)
    if ridge > 0:
        A = Phi.transpose(1, 2) @ Phi + ridge * torch.eye(H + 1, dtype=feats.dtype, device=feats.device)
        Wb = torch.linalg.solve(A, Phi.transpose(1, 2) @ D)
    else:
        Wb = torch.linalg.pinv(Phi) @ D
    return Wb[:, :H], Wb[:, H]
