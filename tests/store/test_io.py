"""StoreIO, the store as a task sees it: lazy reads equal to `reprdyn.open`, a region written into
its own place and nowhere else, feature rows written a chunk at a time."""

from __future__ import annotations

import numpy as np
import xarray.testing as xrt

import reprdyn
from reprdyn.store.io import StoreIO


def test_reads_are_what_reprdyn_open_reads(small_store):
    io, res = StoreIO(small_store), reprdyn.open(small_store)
    xrt.assert_equal(io.metrics("toy")["accuracy"].load(), res["toy"]["accuracy"].load())
    feats = io.features("toy", "output")
    assert feats.dims[-2:] == ("sample", "channel")
    np.testing.assert_array_equal(feats.values, res.features("toy", "output")["features"].values)


def test_a_region_lands_in_its_place_and_nowhere_else(small_store_copy):
    io = StoreIO(small_store_copy)
    before = io.metrics("toy")["best_sigma"].load()
    cell = before.isel(label_noise=[1], seed=[0]).to_dataset()
    io.write("toy", cell + 100.0)
    after = io.metrics("toy")["best_sigma"].load()
    changed = after != before
    assert (
        bool(changed.isel(label_noise=1, seed=0).all())
        and int(changed.sum()) == cell.best_sigma.size
    )
    xrt.assert_equal(after.isel(label_noise=[1], seed=[0]), cell.best_sigma + 100.0)


def test_feature_rows_are_written_a_chunk_at_a_time(small_store_copy):
    io = StoreIO(small_store_copy)
    feats = io.features("toy", "output")
    n, C = feats.sizes["sample"], feats.sizes["channel"]
    writer = io.rows("toy", "output", (0, 0, 0))  # replicate, sigma, input
    rows = np.arange(n * C, dtype=np.float32).reshape(n, C)
    for start in range(0, n, 7):  # blocks that straddle chunks
        writer.add(start, rows[start : start + 7])
    writer.flush()
    np.testing.assert_array_equal(
        io.features("toy", "output").isel(replicate=0, sigma=0, input=0).values, rows
    )
