"""Metric `miou`: its summary row read by hand off a made-up cube (sigma* chosen on validation
per replicate and seed, test mIoU there), its rules and its default."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from helpers import SEG_SMALL, errors

from reprdyn.metrics import miou

SIGMAS = [0.1, 0.5, 2.0]


def _cube():
    """miou and val_miou over (model, replicate, sigma, layer, label_noise, seed, probe, input):
    two replicates, two seeds, one dense set, one probe, at two label-noise levels."""
    dims = ("model", "replicate", "sigma", "layer", "label_noise", "seed", "probe", "input")
    coords = dict(
        model=[""], replicate=[0, 1], sigma=SIGMAS, layer=["both"], label_noise=[0.0, 0.3],
        seed=[0, 1], probe=["seg-linear"], input=["clean"],
    )  # fmt: skip
    test = np.zeros((1, 2, 3, 1, 2, 2, 1, 1))
    val = np.zeros_like(test)
    test[0, :, :, 0, 0, :, 0, 0] = np.array([0.2, 0.6, 0.4])[None, :, None] + [[[0.0]], [[0.1]]]
    val[0, :, :, 0, 0, :, 0, 0] = np.array([0.1, 0.3, 0.5])[None, :, None]  # val picks 2.0 ...
    val[0, 1, :, 0, 0, 1, 0, 0] = [0.1, 0.9, 0.5]  # ... but replicate 1, seed 1 picks 0.5
    test[0, :, :, 0, 1] = val[0, :, :, 0, 1] = 0.99  # the noisier level is not the headline
    return xr.Dataset(
        {"miou": (dims, test), "val_miou": (dims, val)}, coords=coords, attrs={"analysis": {}}
    )


def test_the_row_reads_test_miou_at_each_fits_validation_choice():
    (row,) = miou._segmentation_rows("d", _cube())
    assert row.best_sigma == 2.0 and row.best_sigma_agree == 0.75  # 3 of 4 fits chose 2.0
    # at sigma 2.0 test is 0.4 (+0.1 in replicate 1); replicate 1 seed 1 reads 0.5 -> 0.7
    assert row.best_miou.value == pytest.approx(np.mean([0.4, 0.4, 0.5, 0.7]))
    assert row.test_peak_sigma == 0.5  # the test curve peaks where validation did not look
    assert (row.replicates, row.seeds) == (2, 2)


def test_rules_pair_the_metric_with_segmentation_probes_and_masks():
    no_metric = SEG_SMALL.replace("segmentation: {", "metrics: [accuracy]\nsegmentation: {")
    assert any("report miou; add `miou` to metrics" in e for e in errors(no_metric))
    assert miou.default({"probes": [{"kind": "seg-mlp"}]})
    assert not miou.default({"probes": [{"kind": "ridge"}]}) and not miou.default({})
