"""Metric `posterior_mse`: the error of the cell's denoiser on the test split alone, and the PSNR
from the dataset's declared range; against denoisers whose error is known in closed form."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest
import torch
from helpers import molrg_spec

from reprdyn.metrics import posterior_mse
from reprdyn.spec import validate_text
from reprdyn.stages.base import Cell

SPEC = validate_text(molrg_spec())


def _cell(net, data_range=2.0):
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(150, 4))
    split = np.array(["train"] * 100 + ["test"] * 50)
    data = NS(split=split, meta={"data_range": data_range})
    params = NS(model="", sigma=0.5)
    return Cell(spec=SPEC, dataset="m", params=params, data=data, x0=x0, net=net, device="cpu"), x0


def test_a_denoiser_returning_zero_errs_by_the_test_split_energy():
    cell, x0 = _cell(lambda x, sigma: torch.zeros_like(x), data_range=4.0)
    out = posterior_mse.compute(cell)
    mse = np.mean(x0[100:] ** 2)  # the test rows only
    assert out["posterior_mse"] == pytest.approx([mse], rel=1e-6)  # float32 round trip
    assert out["posterior_psnr"] == pytest.approx([10 * np.log10(16 / mse)], rel=1e-6)


def test_the_identity_errs_by_sigma_squared():
    cell, _ = _cell(lambda x, sigma: x)  # returns x0 + sigma eps: error sigma^2 E[eps^2]
    mse = posterior_mse.compute(cell)["posterior_mse"][0]
    n = 50 * 4  # elements: a chi-square of n degrees over n, sd sqrt(2 / n) = 0.1
    assert abs(mse / 0.25 - 1) < 4 * np.sqrt(2 / n)
