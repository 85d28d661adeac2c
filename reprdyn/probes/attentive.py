"""The attentive probe: cross-attention pooling over a layer's spatial tokens, then a linear head
(the attentive probes of V-JEPA and of Mukhopadhyay et al. 2023, one learned query).

A stack here is (S, n, L, C): per sigma, n samples of L tokens of C channels (a (C, h, w) map read
as h * w tokens; pooled features (S, n, C) count as one token each). Per (feature set, target set)
pair: keys and values are linear maps of the tokens to `heads` x `head_dim`, one learned query per
head scores the tokens, the softmax-weighted values are concatenated and read by a linear head.
Trained as the other trained probes (`probes.neural`): Adam on minibatches shared by every pair,
each pair initialised from its own seed and its own loss term, so a pair's numbers are those it
would have alone.
"""

from __future__ import annotations

import math

import torch

from .neural import _Trained


class AttentiveProbe(_Trained):
    sample_dims = (1, 2)  # standardised per channel, over samples and tokens

    def __init__(self, n_classes: int, heads: int = 4, head_dim: int = 16, **kw):
        super().__init__(n_classes, **kw)
        self.heads = heads
        self.head_dim = head_dim

    def _prepare(self, X) -> torch.Tensor:
        X = torch.as_tensor(X, dtype=self.dtype, device=self.device)
        X = X[:, :, None] if X.ndim == 3 else X  # (S, n, L, C)
        return X.abs() if self.transform == "abs" else X

    def _init(self, S, T, C, seeds):
        D, K, H = self.heads * self.head_dim, self.n_classes, self.heads
        Wk, Wv, q, W, b = self._uniform(
            seeds, [((C, D), C), ((C, D), C), ((H, self.head_dim), self.head_dim), ((D, K), D),
                    ((K,), D)],
        )  # fmt: skip
        return {"Wk": Wk, "Wv": Wv, "q": q, "W": W, "b": b}

    def attention(self, p, X) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled (S, T, B, D), attention (S, T, B, H, L)) of tokens X (S, B, L, C)."""
        S, B, L, _ = X.shape
        T, H, dh = p["q"].shape[1], self.heads, self.head_dim
        Xt = X.reshape(S, 1, B * L, -1).expand(-1, T, -1, -1)  # (S, T, B*L, C)
        # every product below has one pair's own shape, whatever S and T are (an einsum would
        # fold the stack into its GEMMs and round by the stack's size)
        keys = (Xt @ p["Wk"]).view(S, T, B, L, H, dh).transpose(3, 4)  # (S, T, B, H, L, dh)
        vals = (Xt @ p["Wv"]).view(S, T, B, L, H, dh).transpose(3, 4)
        q = p["q"][:, :, None, :, :, None]  # (S, T, 1, H, dh, 1)
        scores = (keys @ q)[..., 0] / math.sqrt(dh)  # (S, T, B, H, L)
        att = torch.softmax(scores, -1)
        pooled = (att[..., None, :] @ vals)[..., 0, :]  # (S, T, B, H, dh)
        return pooled.reshape(S, T, B, H * dh), att

    def _forward(self, p, X, train: bool) -> torch.Tensor:
        pooled, _ = self.attention(p, X)
        return pooled @ p["W"] + p["b"][:, :, None]  # (S, T, B, K)
