"""`reprdyn verify`: finds an emptied region; --repair lets the next run redo it."""

from __future__ import annotations

import numpy as np
import xarray.testing as xrt
from helpers import SMALL, copy_store

from reprdyn.runner import Hooks, RunOptions
from reprdyn.spec import validate_text


def test_verify_finds_an_emptied_region_and_repair_lets_the_run_redo_it(small_store, tmp_path):
    import zarr
    from typer.testing import CliRunner

    import reprdyn
    from reprdyn.cli import app

    path = copy_store(small_store, tmp_path / "s.zarr")
    r = CliRunner().invoke(app, ["verify", str(path)])
    assert r.exit_code == 0, r.output
    acc = zarr.open_array(str(path / "datasets/toy/metrics/val_accuracy"), mode="r+")
    acc[...] = np.nan  # the probe's results gone, its manifest line kept
    feats = zarr.open_array(str(path / "datasets/toy/features/output/features"), mode="r+")
    feats[0, 3] = np.nan  # and one sigma's features
    r = CliRunner().invoke(app, ["verify", str(path)])
    assert r.exit_code == 1
    assert "probe toy" in r.stderr and "val_accuracy holds no value" in r.stderr
    assert "features toy" in r.stderr and "hold NaN" in r.stderr
    r = CliRunner().invoke(app, ["verify", str(path), "--repair"])
    assert r.exit_code == 0 and "run the spec again" in r.stderr
    ran = []
    reprdyn.run(validate_text(SMALL), store=path, options=RunOptions(hooks=Hooks(start=ran.append)))
    assert {t.stage for t in ran} == {"features", "probe"}
    xrt.assert_identical(reprdyn.open(small_store)["toy"].load(), reprdyn.open(path)["toy"].load())
    assert CliRunner().invoke(app, ["verify", str(path)]).exit_code == 0
