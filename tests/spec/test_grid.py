"""The sigma grid: ranges, sorting, bad values, timesteps converted to sigma."""

from __future__ import annotations

import pytest
from helpers import BASE, errors, trained_spec

from reprdyn.spec import validate_text


def test_sigma_range_log_and_linear():
    spec = validate_text(
        BASE.replace("sigma: [0.5, 1e-3, 2]", "sigma: {start: 0.01, stop: 10, num: 4}")
    )
    assert spec.sigmas == pytest.approx([0.01, 0.1, 1.0, 10.0])
    spec = validate_text(
        BASE.replace("sigma: [0.5, 1e-3, 2]", "sigma: {start: 0, stop: 1, num: 3, scale: linear}")
    )
    assert spec.sigmas == [0.0, 0.5, 1.0]


def test_negative_nan_inf_sigma():
    out = errors(BASE.replace("[0.5, 1e-3, 2]", "[0.5, -1e-3, .nan, .inf]"))
    assert len(out) == 3
    assert out[0].startswith("s.yaml:6:14: sigma[1]:") and "greater than or equal to 0" in out[0]
    assert all("sigma[" in o for o in out)


def test_empty_grid_and_duplicates():
    assert "the sigma grid is empty" in errors(BASE.replace("[0.5, 1e-3, 2]", "[]"))[0]
    assert "duplicate sigma 0.5" in errors(BASE.replace("[0.5, 1e-3, 2]", "[0.5, 0.5]"))[0]
    assert (
        "log-scaled grid needs start > 0"
        in errors(BASE.replace("[0.5, 1e-3, 2]", "{start: 0, stop: 1, num: 3}"))[0]
    )


TRAINED = trained_spec(rest="layers: [fc2, outptu]\n")


def test_timestep_grid_converts_to_sigma():
    from reprdyn.maths.schedules import VPSchedule

    spec = validate_text(TRAINED.replace(", outptu", ""))
    assert spec.sigmas == pytest.approx(VPSchedule().sigmas[[1, 10, 100]].tolist())
    assert spec.timestep_coord == [1.0, 10.0, 100.0]
    assert "needs a model with a vp precond" in errors(TRAINED.replace("kind: vp", "kind: edm"))[0]
    assert "outside the schedule's range" in errors(TRAINED.replace("[1, 10, 100]", "[1, 1000]"))[0]
    assert "exactly one of `sigma`" in errors(TRAINED.replace(", outptu", "") + "sigma: [1]\n")[0]
