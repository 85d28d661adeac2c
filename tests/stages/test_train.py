"""The train stage: replicates are trained apart and share the cube; replicate 0 is the
one-replicate run."""

from __future__ import annotations

import numpy as np
import xarray.testing as xrt

import reprdyn
from reprdyn.runner import Hooks, RunOptions


def test_replicates_are_trained_apart_and_share_the_cube(replicated):
    spec, tmp, rows = replicated
    ds = reprdyn.open(tmp / "r.zarr")["m"]
    acc = ds["accuracy"].sel(layer="output", probe="ridge", label_noise=0, seed=0)
    assert list(ds.replicate.values) == [0, 1, 2]
    assert acc.sel(model="mlp").notnull().all()  # three trained replicates
    assert acc.sel(model="exact", replicate=0).notnull().all()
    assert acc.sel(model="exact", replicate=[1, 2]).isnull().all()  # the posterior has one
    f = reprdyn.open(tmp / "r.zarr").features("m", "output")["features"].sel(model="mlp")
    first = f.sel(replicate=0).values
    assert all(np.abs(f.sel(replicate=r).values - first).max() > 1e-3 for r in (1, 2))
    by_model = {r.model: r for r in rows if r.layer == "output" and r.input == "clean"}
    assert by_model["mlp"].replicates == 3 and by_model["exact"].replicates == 1


def test_replicate_zero_of_three_is_the_one_replicate_run(replicated, shared_cache):
    spec, tmp, _ = replicated
    from helpers import REPLICATED

    from reprdyn.spec import validate_text

    one = validate_text(
        REPLICATED.replace("replicates: 3", "replicates: 1"),
        overrides=[f"compute.cache={shared_cache}"],
    )
    calls = []
    reprdyn.run(
        one,
        store=tmp / "one.zarr",
        options=RunOptions(hooks=Hooks(train_step=lambda *a: calls.append(a))),
    )
    assert calls == []  # replicate 0 came from the cache
    a = reprdyn.open(tmp / "one.zarr")["m"]["accuracy"]
    b = reprdyn.open(tmp / "r.zarr")["m"]["accuracy"].sel(replicate=[0])
    xrt.assert_identical(a.load(), b.load())
