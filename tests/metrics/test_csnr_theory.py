"""Metric `csnr_theory`: its compute reads the dataset's MoLRG parameters, its rules refuse what
it cannot measure."""

from __future__ import annotations

import numpy as np
from helpers import SMALL, errors

from reprdyn.maths.csnr import csnr_theory
from reprdyn.metrics import csnr_theory as metric
from reprdyn.spec import validate_text
from reprdyn.stages.base import Cell


def test_it_is_the_closed_form_at_the_spec_sigmas():
    spec = validate_text(SMALL)
    data = Cell(meta={"K": 3, "d": 2, "delta": 0.3})
    got = metric.compute(Cell(spec=spec, data=data))["csnr_theory"]
    np.testing.assert_array_equal(got, csnr_theory(spec.sigmas, 3, 2, 0.3))


def test_delta_zero_is_refused_at_the_metrics_line():
    out = errors(SMALL.replace("delta: 0.3", "delta: 0.0") + "metrics: [accuracy, csnr_theory]\n")
    assert any("csnr_theory is infinite" in line for line in out)
