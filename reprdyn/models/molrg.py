"""The optimal MoLRG denoiser: the analytic posterior mean, docs/theory.md §3 (Proposition 1)."""

from __future__ import annotations

import torch
from torch import nn


class MolrgPosterior(nn.Module):
    """xhat(x, sigma) = E[x0 | x0 + sigma eps = x] for noisy MoLRG data with bases U (K, n, d)."""

    def __init__(self, U, delta: float):
        super().__init__()
        self.register_buffer("U", torch.as_tensor(U, dtype=torch.float64))  # (K, n, d)
        self.delta = float(delta)

    def forward(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        x = x.to(self.U.dtype)  # (B, n)
        s2, d2 = float(sigma) ** 2, self.delta**2
        proj = torch.einsum("bn,knd->bkd", x, self.U)  # (B, K, d) = U_k^T x
        energy = proj.pow(2).sum(-1)  # (B, K) = ||U_k^T x||^2
        # class confidence w_k = softmax_k(c(sigma) ||U_k^T x||^2), Prop. 1
        if d2 + s2 == 0:  # delta = sigma = 0: c is infinite, the softmax is an argmax
            w = nn.functional.one_hot(energy.argmax(1), energy.shape[1]).to(x.dtype)
        else:
            c = (1 - d2) / (2 * (1 + s2) * (d2 + s2))
            w = torch.softmax(c * energy, dim=1)
        # per-class shrinkage: 1/(1+s^2) on U_k, delta^2/(delta^2+s^2) on its complement
        on = torch.einsum("bkd,knd->bkn", proj, self.U)  # (B, K, n) = U_k U_k^T x
        off_gain = d2 / (d2 + s2) if d2 + s2 > 0 else 0.0
        per_k = on / (1 + s2) + off_gain * (x[:, None, :] - on)  # (B, K, n)
        return (w[..., None] * per_k).sum(1)  # (B, n)
