"""Which model kinds exist and what each needs: tables the spec, the plan and the caches share.

Plain data and no imports beyond the standard library, so validating a spec
and planning a run never load torch.
"""

from __future__ import annotations

TRAINABLE = ("diffusion", "dae")  # reprdyn trains them (checkpoint cache)
PRETRAINED = ("diffusers-unet", "dit", "ldm", "sd", "flow", "python")  # loaded, never trained
ANALYTIC = ("molrg-optimal",)  # computed from the data

# layers known without building a network
STATIC_LAYERS: dict[str, list[str]] = {"molrg-optimal": ["output"]}

OUTPUT = "output"  # a denoiser's return value, the posterior estimate: a layer every model has

# the raw-input baseline: a pseudo-layer every model has, the flattened input the denoiser receives
# (x0, or x0 + sigma eps for noisy input; latents for latent models), probed like any layer
PIXELS = "pixels"


def replicates(cfg) -> int:
    """How many independently trained models a model block stands for (1 unless it is trained)."""
    return cfg.train.replicates if cfg.kind in TRAINABLE else 1


def dae_sigmas(cfg, grid: list[float]) -> list[list[float]] | None:
    """Noise levels of each DAE a model block trains: one list per checkpoint (None: not a DAE).

    `train_sigma: grid` trains one DAE per grid sigma; a number or a list trains
    one DAE at that level or those levels (multi-level training).
    """
    if cfg.kind != "dae":
        return None
    if cfg.train_sigma == "grid":
        return [[s] for s in grid]
    return (
        [[float(cfg.train_sigma)]]
        if isinstance(cfg.train_sigma, (int, float))
        else [list(cfg.train_sigma)]
    )


FORWARD_ROWS = 64  # samples per forward pass, aligned to sample index: the same blocks on every run
