"""The hub schedules `validate` checks a sigma grid against, with no weights and no network:
each recorded config gives diffusers' own alphas_cumprod, and every shipped spec's grid lies in
its model's schedule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import allowed_env, grants, invoke

from reprdyn.spec import load_spec
from reprdyn.spec.hub import SCHEDULES, describe, schedule, sigma_problems

ROOT = Path(__file__).parents[2]
VP = {describe(c): c for c in SCHEDULES.values() if "beta_schedule" in c}  # the distinct ones


@pytest.mark.parametrize("name", sorted(VP))
def test_a_recorded_schedule_is_diffusers_own(name):
    diffusers = pytest.importorskip("diffusers")
    config = VP[name]
    theirs = diffusers.DDPMScheduler(**{k: v for k, v in config.items() if k != "prediction_type"})
    ours = schedule(config).alphas_cumprod
    np.testing.assert_allclose(ours, theirs.alphas_cumprod.double().numpy(), rtol=2e-6)


def test_stable_diffusion_runs_from_0_0292_to_14_61():
    sd = schedule(SCHEDULES["stabilityai/stable-diffusion-2-1"])
    assert (round(sd.sigma_min, 4), round(sd.sigma_max, 2)) == (0.0292, 14.61)


@pytest.mark.parametrize("folder", ["specs", "reprdyn/templates"])
def test_every_shipped_grid_lies_in_its_models_schedule(folder):
    checked = 0
    for path in sorted((ROOT / folder).glob("*.yaml")):
        spec = load_spec(path, allow_env=allowed_env(path), checks=False)
        for _, m in spec.model_items():
            if getattr(m, "id", None) in SCHEDULES:
                assert sigma_problems(m, spec.sigmas, SCHEDULES[m.id], "-") == [], path
                checked += 1
    assert checked >= 6  # ddpm, dit, ldm, sd 2.1, sdxl, flux


def test_a_grid_outside_sd21_is_refused_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))  # nothing downloaded, ever
    spec = ROOT / "specs" / "sd21-classification.yaml"
    r = invoke("validate", spec, *grants(spec), "--set", "sigma=[0.5, 20.0]")
    assert r.exit_code == 2
    assert "sigma 20 is outside the schedule of stabilityai/stable-diffusion-2-1" in r.stderr
    assert "sigma runs from 0.02917 to 14.61" in r.stderr


def test_a_flow_models_steps_must_be_its_schedulers():
    block = type("M", (), {"id": "black-forest-labs/FLUX.1-schnell", "num_train_timesteps": 500})
    ((loc, message),) = sigma_problems(block, [0.5], SCHEDULES[block.id], "recorded")
    assert loc == ("model", "num_train_timesteps") and "set `num_train_timesteps: 1000`" in message


def test_a_cosine_scheduler_config_is_diffusers_own():
    diffusers = pytest.importorskip("diffusers")
    config = {"beta_schedule": "squaredcos_cap_v2", "num_train_timesteps": 1000}
    theirs = diffusers.DDPMScheduler(**config).alphas_cumprod.double().numpy()
    np.testing.assert_allclose(schedule(config).alphas_cumprod, theirs, rtol=2e-6, atol=1e-12)
    with pytest.raises(ValueError, match="unknown beta_schedule 'sigmoid'"):
        schedule({"beta_schedule": "sigmoid"})
