"""Noise schedules and the sigma <-> timestep conversion of the noise frame (docs/theory.md §1).

A VP/DDPM model at timestep t sees x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, the same point as
x0 + sigma_t eps scaled by sqrt(abar_t), with sigma_t = sqrt((1 - abar_t) / abar_t). This module is
the one place sigma and t convert into each other; it needs numpy only.

Its code is part of every checkpoint key (`reprdyn.compute.train.code_version`, docstrings aside):
a change here retrains every cached model once, so what only reads schedules (hub configs:
`reprdyn.spec.hub`) lives elsewhere.
"""

from __future__ import annotations

import math

import numpy as np

RANGE_SLACK = 1e-6  # relative: a sigma this close to an end of the schedule counts as inside


class VPSchedule:
    """DDPM betas ('linear' or 'cosine') over T steps, with alphas_cumprod."""

    def __init__(
        self,
        kind: str = "linear",
        T: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        cosine_s: float = 0.008,
    ):
        self.kind, self.T = kind, T
        if kind == "linear":
            betas = np.linspace(beta_start, beta_end, T, dtype=np.float64)
        elif kind == "cosine":  # Nichol & Dhariwal 2021
            f = np.cos((np.arange(T + 1) / T + cosine_s) / (1 + cosine_s) * math.pi / 2) ** 2
            betas = np.clip(1 - f[1:] / f[:-1], 0, 0.999)
        else:
            raise ValueError(
                f"unknown beta schedule {kind!r}; expected one of ['cosine', 'linear']"
            )
        self.betas = betas
        self.alphas_cumprod = np.cumprod(1 - betas)  # abar_t, t = 0..T-1
        self.sigmas = np.sqrt((1 - self.alphas_cumprod) / self.alphas_cumprod)  # increasing in t

    @classmethod
    def from_config(cls, p) -> VPSchedule:
        """The schedule of a spec's `precond: {kind: vp, ...}` block."""
        return cls(p.schedule, p.T, p.beta_start, p.beta_end)

    @classmethod
    def from_alphas_cumprod(cls, alphas_cumprod) -> VPSchedule:
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

    def out_of_range(self, sigmas) -> list[float]:
        """The sigmas that have no timestep in 0..T-1 of this schedule."""
        lo, hi = self.sigma_min * (1 - RANGE_SLACK), self.sigma_max * (1 + RANGE_SLACK)
        return [
            float(s) for s in np.atleast_1d(np.asarray(sigmas, np.float64)) if not lo <= s <= hi
        ]

    def check_range(self, sigmas, what: str = "this schedule") -> None:
        """Raise ValueError naming the first sigma outside the schedule's range and the valid range.

        The one range check for every VP model, trained or pretrained: a sigma outside
        the range would be clamped in the time conditioning but not in the input scaling.
        """
        bad = self.out_of_range(sigmas)
        if bad:
            raise ValueError(
                f"sigma {bad[0]:g} is outside {what}'s range [{self.sigma_min:.4g}, "
                f"{self.sigma_max:.4g}] (timesteps 0..{self.T - 1} of its alphas_cumprod); use "
                "sigmas inside that range"
            )

    def sigma(self, t) -> np.ndarray:
        """sigma at (possibly fractional) timesteps: log-sigma interpolated between integer
        steps."""
        t = np.asarray(t, dtype=np.float64)
        if np.any(t < 0) or np.any(t > self.T - 1):
            raise ValueError(f"timestep outside the schedule's range 0..{self.T - 1}: {t.tolist()}")
        return np.exp(np.interp(t, np.arange(self.T), np.log(self.sigmas)))

    def timestep(self, sigma) -> np.ndarray:
        """The inverse of `sigma`: fractional timesteps in 0..T-1; a sigma outside the range is an
        error."""
        sigma = np.asarray(sigma, dtype=np.float64)
        self.check_range(sigma)
        # clips only the RANGE_SLACK
        log_s = np.log(np.clip(sigma, self.sigmas[0], self.sigmas[-1]))
        return np.interp(log_s, np.log(self.sigmas), np.arange(self.T, dtype=np.float64))


class FlowSchedule:
    """Rectified flow (SD3, FLUX): x_t = (1 - t) x0 + t eps for t in [0, 1], trained with timesteps
    k = t T (T = the scheduler's num_train_timesteps).

    x_t / (1 - t) = x0 + t / (1 - t) eps, so x_t is the point x = x0 + sigma eps of reprdyn's frame
    scaled by 1 / (1 + sigma), with sigma = t / (1 - t) and t = sigma / (1 + sigma)
    (docs/theory.md §1). Every sigma >= 0 has a t in [0, 1); t = 1 (pure noise) is sigma = inf.
    """

    def __init__(self, T: int = 1000):
        self.kind, self.T = "flow", int(T)

    @property
    def sigma_min(self) -> float:
        return 0.0

    @property
    def sigma_max(self) -> float:
        return math.inf

    def out_of_range(self, sigmas) -> list[float]:
        """The sigmas with no flow time: negative or not finite."""
        s = np.atleast_1d(np.asarray(sigmas, np.float64))
        return [float(v) for v in s if not (np.isfinite(v) and v >= 0)]

    def check_range(self, sigmas, what: str = "this schedule") -> None:
        bad = self.out_of_range(sigmas)
        if bad:
            raise ValueError(
                f"sigma {bad[0]:g} is outside {what}'s range: a flow model takes every finite "
                "sigma >= 0 (t = sigma / (1 + sigma) in [0, 1))"
            )

    def t(self, sigma) -> np.ndarray:
        """The flow time t = sigma / (1 + sigma) in [0, 1)."""
        sigma = np.asarray(sigma, dtype=np.float64)
        self.check_range(sigma)
        return sigma / (1 + sigma)

    def sigma(self, k) -> np.ndarray:
        """sigma at (possibly fractional) timesteps k = t T in 0..T-1: sigma = t / (1 - t)."""
        k = np.asarray(k, dtype=np.float64)
        if np.any(k < 0) or np.any(k > self.T - 1):
            raise ValueError(f"timestep outside the flow schedule's range 0..{self.T - 1}: {k}")
        t = k / self.T
        return t / (1 - t)

    def timestep(self, sigma) -> np.ndarray:
        """The inverse of `sigma`: k = T sigma / (1 + sigma), fractional, in [0, T)."""
        return self.t(sigma) * self.T


class EDMSchedule:
    """EDM (Karras et al. 2022) noise levels: sigma_min, sigma_max, rho."""

    def __init__(self, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0):
        self.sigma_min, self.sigma_max, self.rho = sigma_min, sigma_max, rho

    def steps(self, num: int) -> np.ndarray:
        """The sampler's decreasing sigma grid of `num` points (EDM eq. 5)."""
        i = np.arange(num, dtype=np.float64)
        a, b = self.sigma_max ** (1 / self.rho), self.sigma_min ** (1 / self.rho)
        return (a + i / max(num - 1, 1) * (b - a)) ** self.rho
