"""Raw denoising networks F(x_in, c_noise): the paper's MLP and a small ADM-style U-Net.

They know nothing of noise schedules; `precond` wraps them (as EDM's `EDMPrecond` wraps its U-Nets).
Block names are stable, readable hook points: MLP `fc1`, `fc2`, `head`; U-Net `stem`, `enc.0`,
`down.0`, `mid`, `dec.0`, `out`.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import lookup


class NoiseEmbedding(nn.Module):
    """Sinusoidal embedding of the scalar noise conditioning c_noise, then a 2-layer MLP."""

    def __init__(self, dim: int, max_period: float = 10_000.0):
        super().__init__()
        self.dim, self.max_period = dim, max_period
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(
            -math.log(self.max_period) * torch.arange(half, device=c_noise.device) / half
        )
        args = c_noise.float()[:, None] * 1000 * freqs[None]  # (B, half); c_noise is O(1)
        return self.mlp(torch.cat([args.cos(), args.sin()], dim=1))  # (B, dim)


# --- MLP (docs/theory.md §6, Figure 5) ---------------------------------------------


class DenseBlock(nn.Module):
    """relu(W x + E(emb)), then dropout: one hidden layer of the MLP."""

    def __init__(self, d_in: int, d_out: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.lin, self.emb, self.drop = (
            nn.Linear(d_in, d_out),
            nn.Linear(emb_dim, d_out),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.drop(F.relu(self.lin(x) + self.emb(emb)))


class MLP(nn.Module):
    """The paper's 3-layer ReLU MLP with a noise embedding; features at `fc2` are `width`-dim."""

    def __init__(
        self, shape: tuple[int, ...], width: int = 1024, emb_dim: int = 128, dropout: float = 0.0
    ):
        super().__init__()
        self.shape = tuple(shape)
        dim = math.prod(self.shape)
        self.embed = NoiseEmbedding(emb_dim)
        self.fc1 = DenseBlock(dim, width, emb_dim, dropout)
        self.fc2 = DenseBlock(width, width, emb_dim, dropout)
        self.head = nn.Linear(width, dim)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        emb = self.embed(c_noise)
        h = self.fc2(self.fc1(x.flatten(1), emb), emb)  # (B, width)
        return self.head(h).view(x.shape)


# --- U-Net (DDPM++/ADM style, small) -----------------------------------------


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, ch), ch)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.drop = _norm(c_out), nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]  # (B, C, 1, 1) broadcast over space
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return (h + self.skip(x)) / math.sqrt(2)


class Attention(nn.Module):
    """Single-head self-attention over spatial positions."""

    def __init__(self, ch: int):
        super().__init__()
        self.norm, self.qkv, self.proj = _norm(ch), nn.Conv2d(ch, 3 * ch, 1), nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)  # each (B, C, HW)
        # (B, HW, C)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return (x + self.proj(a.transpose(1, 2).reshape(B, C, H, W))) / math.sqrt(2)


class Level(nn.Module):
    """`n` residual blocks (each optionally followed by attention) at one resolution."""

    def __init__(self, c_in: int, c_out: int, n: int, emb_dim: int, attn: bool, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList(
            ResBlock(c_in if i == 0 else c_out, c_out, emb_dim, dropout) for i in range(n)
        )
        self.attn = nn.ModuleList(Attention(c_out) for _ in range(n)) if attn else None

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            h = block(h, emb)
            if self.attn is not None:
                h = self.attn[i](h)
        return h


class Mid(nn.Module):
    def __init__(self, ch: int, emb_dim: int, attn: bool, dropout: float):
        super().__init__()
        self.res1, self.res2 = (
            ResBlock(ch, ch, emb_dim, dropout),
            ResBlock(ch, ch, emb_dim, dropout),
        )
        self.attn = Attention(ch) if attn else nn.Identity()

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.res2(self.attn(self.res1(h, emb)), emb)


class Up(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(h, scale_factor=2, mode="nearest"))


class UNet(nn.Module):
    """Encoder levels `enc.i` (with `down.i` between them), `mid`, decoder levels `dec.i` (deepest
    first).

    Level i has `channels * mult[i]` channels; spatial size halves per level.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        channels: int = 32,
        mult: tuple[int, ...] = (1, 2),
        blocks: int = 1,
        attention: tuple[int, ...] = (),
        mid_attention: bool = True,
        emb_dim: int = 128,
        dropout: float = 0.0,
    ):
        super().__init__()
        c_img, H, W = shape
        if H % 2 ** (len(mult) - 1) or W % 2 ** (len(mult) - 1):
            raise ValueError(
                f"image size {H}x{W} must be divisible by 2^{len(mult) - 1} for {len(mult)} levels"
            )
        chs = [channels * m for m in mult]
        self.embed = NoiseEmbedding(emb_dim)
        self.stem = nn.Conv2d(c_img, channels, 3, padding=1)
        self.enc = nn.ModuleList(
            Level(c, c2, blocks, emb_dim, i in attention, dropout)
            for i, (c, c2) in enumerate(zip([channels] + chs[:-1], chs))
        )
        self.down = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1) for c in chs[:-1])
        self.mid = Mid(chs[-1], emb_dim, mid_attention, dropout)
        rev = chs[::-1]
        self.dec = nn.ModuleList(
            Level(c + c, c_out, blocks, emb_dim, (len(chs) - 1 - i) in attention, dropout)
            for i, (c, c_out) in enumerate(zip(rev, rev[1:] + [channels]))
        )
        self.up = (
            nn.ModuleList(Up(c) for c in rev[1:] + [channels])[:-1]
            if len(chs) > 1
            else nn.ModuleList()
        )
        self.out = nn.Sequential(
            _norm(channels), nn.SiLU(), nn.Conv2d(channels, c_img, 3, padding=1)
        )

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        emb = self.embed(c_noise)
        h, skips = self.stem(x), []  # (B, C, H, W)
        for i, level in enumerate(self.enc):
            h = level(h, emb)
            skips.append(h)
            if i < len(self.down):
                h = self.down[i](h)  # (B, C, H/2, W/2)
        h = self.mid(h, emb)
        for i, level in enumerate(self.dec):
            h = level(torch.cat([h, skips.pop()], dim=1), emb)  # skip connection on channels
            if i < len(self.up):
                h = self.up[i](h)  # (B, C', 2H, 2W)
        return self.out(h)


NETWORKS = {"mlp": MLP, "unet": UNet}


def build_network(cfg, shape: tuple[int, ...]) -> nn.Module:
    """A raw network for a spec `network` block and the data shape (without batch)."""
    cls = lookup(NETWORKS, cfg.kind, "network kind")
    if cfg.kind == "unet" and len(shape) != 3:
        raise ValueError(
            f"network kind 'unet' needs image data (C, H, W); this data has shape {shape}"
        )
    params = cfg.model_dump(exclude={"kind"})
    if "mult" in params:
        params["mult"] = tuple(params["mult"])
        params["attention"] = tuple(params["attention"])
    return cls(tuple(shape), **params)
