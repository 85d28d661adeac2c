"""Noise schedules and the sigma <-> timestep conversion of THEORY.md §1.

A VP/DDPM model at timestep t sees x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps,
the same point as x0 + sigma_t eps scaled by sqrt(abar_t), with
sigma_t = sqrt((1 - abar_t) / abar_t).
"""
from __future__ import annotations

import math

import numpy as np


class VPSchedule:
    """DDPM betas ('linear' or 'cosine') over T steps, with alphas_cumprod."""

    def __init__(self, kind: str = "linear", T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                 cosine_s: float = 0.008):
        self.kind, self.T = kind, T
        if kind == "linear":
            betas = np.linspace(beta_start, beta_end, T, dtype=np.float64)
        elif kind == "cosine":  # Nichol & Dhariwal 2021
            f = np.cos((np.arange(T + 1) / T + cosine_s) / (1 + cosine_s) * math.pi / 2) ** 2
            betas = np.clip(1 - f[1:] / f[:-1], 0, 0.999)
        else:
            raise ValueError(f"unknown beta schedule {kind!r}; expected one of ['cosine', 'linear']")
        self.betas = betas
        self.alphas_cumprod = np.cumprod(1 - betas)  # abar_t, t = 0..T-1
        self.sigmas = np.sqrt((1 - self.alphas_cumprod) / self.alphas_cumprod)  # increasing in t

    @classmethod
    def from_alphas_cumprod(cls, alphas_cumprod) -> "VPSchedule":
        """A schedule given by its abar_t, t = 0..T-1 (a pretrained model's own)."""
        self = cls.__new__(cls)
        self.alphas_cumprod = np.asarray(alphas_cumprod, dtype=np.float64)
        self.kind, self.T = "custom", len(self.alphas_cumprod)
        self.betas = 1 - self.alphas_cumprod / np.concatenate([[1.0], self.alphas_cumprod[:-1]])
        self.sigmas = np.sqrt((1 - self.alphas_cumprod) / self.alphas_cumprod)
        return self

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

    def sigma(self, t) -> np.ndarray:
        """sigma at (possibly fractional) timesteps: log-sigma interpolated between integer steps."""
        t = np.asarray(t, dtype=np.float64)
        if np.any(t < 0) or np.any(t > self.T - 1):
            raise ValueError(f"timestep outside the schedule's range 0..{self.T - 1}: {t.tolist()}")
        return np.exp(np.interp(t, np.arange(self.T), np.log(self.sigmas)))

    def timestep(self, sigma) -> np.ndarray:
        """The inverse of `sigma`: fractional timesteps, clipped to 0..T-1."""
        sigma = np.asarray(sigma, dtype=np.float64)
        log_s = np.log(np.clip(sigma, self.sigmas[0], self.sigmas[-1]))
        return np.interp(log_s, np.log(self.sigmas), np.arange(self.T, dtype=np.float64))


class EDMSchedule:
    """EDM (Karras et al. 2022) noise levels: sigma_min, sigma_max, rho."""

    def __init__(self, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0):
        self.sigma_min, self.sigma_max, self.rho = sigma_min, sigma_max, rho

    def steps(self, num: int) -> np.ndarray:
        """The sampler's decreasing sigma grid of `num` points (EDM eq. 5)."""
        i = np.arange(num, dtype=np.float64)
        a, b = self.sigma_max ** (1 / self.rho), self.sigma_min ** (1 / self.rho)
        return (a + i / max(num - 1, 1) * (b - a)) ** self.rho


def abar_from_sigma(sigma):
    """alphas_cumprod at the point where sigma_t = sigma: 1 / (1 + sigma^2)."""
    return 1.0 / (1.0 + np.asarray(sigma, dtype=np.float64) ** 2)
