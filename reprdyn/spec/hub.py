"""The noise schedules of the hub models the field studies, so `validate` checks a sigma grid
against a model's schedule with no weights and no network.

Each entry is the part of the model's `scheduler/scheduler_config.json` that fixes its schedule
(public facts of the hub repositories). A model not listed is checked from its scheduler config
when that file is on disk (a local folder, or the Hugging Face cache: `reprdyn.runner.checks`), and
otherwise once it loads.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# DDPM's linear betas (Ho et al. 2020), also ADM's and DiT's
DDPM = {
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "num_train_timesteps": 1000,
}
# Stable Diffusion 1.x, 2.x and XL: linear in sqrt(beta); 2.x at 768 px predicts v
SD = {
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "num_train_timesteps": 1000,
}
SD_V = {**SD, "prediction_type": "v_prediction"}
# the CompVis LDMs ("linear" in their own code is linear in sqrt(beta))
LDM = {
    "beta_schedule": "scaled_linear",
    "beta_start": 0.0015,
    "beta_end": 0.0195,
    "num_train_timesteps": 1000,
}
# rectified flow: every sigma >= 0 has a time; `num_train_timesteps` fixes what a timestep means
FLOW = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000}

SCHEDULES: dict[str, dict] = {
    "google/ddpm-cifar10-32": DDPM,
    "google/ddpm-celebahq-256": DDPM,
    "google/ddpm-church-256": DDPM,
    "google/ddpm-bedroom-256": DDPM,
    "google/ddpm-cat-256": DDPM,
    "facebook/DiT-XL-2-256": DDPM,
    "facebook/DiT-XL-2-512": DDPM,
    "CompVis/ldm-celebahq-256": LDM,
    "CompVis/stable-diffusion-v1-4": SD,
    "runwayml/stable-diffusion-v1-5": SD,
    "stable-diffusion-v1-5/stable-diffusion-v1-5": SD,
    "stabilityai/stable-diffusion-2-base": SD,
    "stabilityai/stable-diffusion-2-1-base": SD,
    "stabilityai/stable-diffusion-2": SD_V,
    "stabilityai/stable-diffusion-2-1": SD_V,
    "stabilityai/stable-diffusion-xl-base-1.0": SD,
    "stabilityai/stable-diffusion-3-medium-diffusers": {**FLOW, "shift": 3.0},
    "stabilityai/stable-diffusion-3.5-medium": {**FLOW, "shift": 3.0},
    "stabilityai/stable-diffusion-3.5-large": {**FLOW, "shift": 3.0},
    "black-forest-labs/FLUX.1-dev": {**FLOW, "shift": 3.0, "use_dynamic_shifting": True},
    "black-forest-labs/FLUX.1-schnell": {**FLOW, "shift": 1.0},
}


# what diffusers' DDPMScheduler takes for a field its config leaves out
DEFAULTS = {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}


def describe(config: dict) -> str:
    """A schedule's config in words: 'scaled_linear betas 0.00085 -> 0.012 over 1000 steps'."""
    T = config.get("num_train_timesteps", 1000)
    if config.get("_class_name") == "FlowMatchEulerDiscreteScheduler":
        return f"rectified flow over {T} steps"
    c = {**DEFAULTS, **config}
    return f"{c['beta_schedule']} betas {c['beta_start']:g} -> {c['beta_end']:g} over {T} steps"


# diffusers' beta_schedule names: betas of T steps from (beta_start, beta_end)
BETAS = {
    "linear": lambda b0, b1, T: np.linspace(b0, b1, T, dtype=np.float64),
    "scaled_linear": lambda b0, b1, T: np.linspace(b0**0.5, b1**0.5, T, dtype=np.float64) ** 2,
}


def schedule(config: dict):
    """The VP schedule a diffusers DDPM/DDIM scheduler config defines (its betas as diffusers
    computes them, in float64). Kept here, not in `reprdyn.maths.schedules`, whose source is part
    of every checkpoint key: reading hub configs must not retrain anyone's models."""
    from ..maths.schedules import VPSchedule

    c = {**DEFAULTS, "num_train_timesteps": 1000, **config}
    T = int(c["num_train_timesteps"])
    if c.get("trained_betas") is not None:
        betas = np.asarray(c["trained_betas"], np.float64)
    elif c["beta_schedule"] == "squaredcos_cap_v2":  # Nichol & Dhariwal's, as reprdyn's cosine
        return VPSchedule("cosine", T)
    elif c["beta_schedule"] in BETAS:
        betas = BETAS[c["beta_schedule"]](float(c["beta_start"]), float(c["beta_end"]), T)
    else:
        raise ValueError(
            f"unknown beta_schedule {c['beta_schedule']!r}; expected one of "
            f"{sorted([*BETAS, 'squaredcos_cap_v2'])}"
        )
    return VPSchedule.from_alphas_cumprod(np.cumprod(1 - betas))


def sigma_problems(
    cfg, sigmas: list[float], config: dict, source: str, where: tuple = ("model",)
) -> list[tuple[tuple, str]]:
    """What is wrong with a sigma grid (and a flow model's T) under a model's scheduler config:
    (location, message) pairs; `where` is the model block's location in the spec."""
    if config.get("_class_name") == "FlowMatchEulerDiscreteScheduler":
        T = int(config.get("num_train_timesteps", 1000))
        if getattr(cfg, "num_train_timesteps", T) != T:
            return [
                (
                    (*where, "num_train_timesteps"),
                    f"the scheduler of {cfg.id} ({source}) has num_train_timesteps {T}, the spec "
                    f"says {cfg.num_train_timesteps}: set `num_train_timesteps: {T}`",
                )
            ]
        return []  # every finite sigma >= 0 has a flow time (the grid's own check)
    vp = schedule(config)
    bad = vp.out_of_range(sigmas)
    if not bad:
        return []
    return [
        (
            ("sigma",),
            f"sigma {bad[0]:g} is outside the schedule of {cfg.id} ({describe(config)}, {source}): "
            f"sigma runs from {vp.sigma_min:.4g} to {vp.sigma_max:.4g}; use sigmas "
            "inside that range",
        )
    ]


def looks_local(name: str) -> bool:
    """A path-like name (starting with '.', '/' or '~'): a local file or folder, never a hub id."""
    return name.startswith((".", "/", "~"))


def cached_file(repo_id: str, filename: str, revision: str | None = None) -> Path | None:
    """A hub repository's file in the Hugging Face cache, never the network; None when it is not
    there, the hub library is missing, or `repo_id` is no repository id."""
    if looks_local(repo_id):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(repo_id, filename, revision=revision)
    except Exception:  # noqa: BLE001 - no hub library, or not a repo id the cache knows
        return None
    return Path(hit) if isinstance(hit, str) else None


def offline() -> bool:
    """Whether the Hugging Face libraries are told to stay offline (HF_HUB_OFFLINE and its kin)."""
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_cache() -> str:
    """Where the Hugging Face hub cache is (for messages)."""
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # noqa: BLE001 - only for the message
        return os.path.expanduser("~/.cache/huggingface/hub")
