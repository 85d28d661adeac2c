"""Metric `unimodality`: the shape of each accuracy curve, on curves whose shape is known."""

from __future__ import annotations

import numpy as np
from helpers import SMALL

from reprdyn.metrics import unimodality
from reprdyn.spec import validate_text
from reprdyn.stages.base import Cell


def test_a_rising_and_falling_curve_is_unimodal_and_a_falling_one_is_not():
    spec = validate_text(SMALL)  # five sigmas, tolerance 0.05
    acc = np.array([[0.5, 0.9], [0.7, 0.8], [0.9, 0.7], [0.7, 0.6], [0.5, 0.5]])  # (S, T)
    got = unimodality.compute(Cell(spec=spec, values={"accuracy": acc}))
    assert got["unimodal"].tolist() == [True, False]
    np.testing.assert_allclose(got["peak_sigma"], [spec.sigmas[2], spec.sigmas[0]])
    np.testing.assert_allclose(got["rise"], [0.4, 0.0])
    np.testing.assert_allclose(got["fall"], [0.4, 0.4])
    assert "unimodal_prob" not in got  # no resampled curves handed over


def test_its_probability_is_the_share_of_resampled_curves_that_are_unimodal():
    spec = validate_text(SMALL)
    up_down = [0.5, 0.7, 0.9, 0.7, 0.5]
    flat_down = [0.9, 0.8, 0.7, 0.6, 0.5]
    boot = np.array([up_down, up_down, up_down, flat_down]).T[:, None, :]  # (S, T=1, B=4)
    cell = Cell(spec=spec, values={"accuracy": boot.mean(-1), "accuracy_boot": boot})
    assert unimodality.compute(cell)["unimodal_prob"].tolist() == [0.75]
