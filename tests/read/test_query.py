"""Query: tidy tables, nearest selection on float coords, averaging, formats, clear errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import reprdyn
from reprdyn.read.query import QueryError, query


def test_tidy_table_matches_cube(small_store):
    df = query(str(small_store), "accuracy").to_pandas()
    cube = reprdyn.open(small_store)["toy"]["accuracy"]
    columns = "dataset replicate sigma layer label_noise seed probe input accuracy"
    assert list(df.columns) == columns.split()
    assert len(df) == cube.size
    row = df[(df.seed == 1) & (df.label_noise == 0.4)].iloc[2]
    assert row.accuracy == float(cube.sel(sigma=row.sigma, seed=1, label_noise=0.4).squeeze())


def test_sel_nearest_and_mean(small_store):
    cube = reprdyn.open(small_store)["toy"]["accuracy"]
    t = query(str(small_store), "accuracy", sel=["sigma=0.6", "label_noise=0.4"], mean=["seed"])
    df = t.to_pandas()
    assert len(df) == 1 and "seed" not in df.columns
    assert df.sigma.iloc[0] == pytest.approx(0.5)  # nearest grid value of 0.05..5 (log, 5 points)
    want = float(cube.sel(sigma=0.5, label_noise=0.4, method="nearest").mean("seed").squeeze())
    assert df.accuracy.iloc[0] == pytest.approx(want)
    # said, not silent
    assert t.notes == ["--sel sigma=0.6: took the nearest grid value, sigma=0.5"]
    # a grid value: nothing to say
    assert query(str(small_store), "accuracy", sel=["sigma=0.5"]).notes == []


@pytest.mark.parametrize("value", ["1000", "-3", "9.0"])
def test_sel_refuses_values_beyond_the_grid(small_store, value):
    """The grid runs 0.05 .. 5; its last step is 5 - 1.58 = 3.4, so 9 is more than a step past the
    end."""
    with pytest.raises(
        QueryError, match=f"--sel sigma={value}: outside the grid, which runs from 0.05 to 5"
    ):
        query(str(small_store), "accuracy", sel=[f"sigma={value}"])


def test_rows_with_no_value_are_dropped_unless_asked(small_store, tmp_path):
    """A probe that never reads a layer leaves NaN cells; queries leave them out (and say so)
    unless asked."""
    import shutil

    import zarr

    path = tmp_path / "s.zarr"
    shutil.copytree(small_store, path)
    acc = zarr.open_array(str(path / "datasets/toy/metrics/accuracy"), mode="r+")
    acc[:, :, :, 1] = np.nan  # (replicate, sigma, layer, label_noise, ...) 0.4: never fitted
    t = query(str(path), "accuracy")
    assert len(t.rows) == 5 * 2 and all(r[4] == 0.0 for r in t.rows)
    assert (
        t.notes and "dropped 10 row(s) with no value" in t.notes[0] and "--keep-nan" in t.notes[0]
    )
    kept = query(str(path), "accuracy", keep_nan=True)
    assert len(kept.rows) == 5 * 2 * 2 and not kept.notes
    assert json.loads(kept.to_json())[-1]["accuracy"] is None  # NaN is null in JSON


def test_csv_and_json_are_pure_data(small_store):
    t = query(str(small_store), "csnr_theory", dataset="toy")
    back = pd.read_csv(io.StringIO(t.to_csv()))
    assert list(back.columns) == ["dataset", "sigma", "csnr_theory"]
    # floats round-trip exactly: sigma 0.015848931924611134 is not cut to 0.0158489
    np.testing.assert_array_equal(back.csnr_theory, t.to_pandas().csnr_theory)
    np.testing.assert_array_equal(back.sigma, t.to_pandas().sigma)
    rows = json.loads(query(str(small_store), "ensemble_members", keep_nan=True).to_json())
    assert len(rows) == 2 * 2 * 3  # label_noise x seed x member, NaN padding included
    assert sum(r["ensemble_members"] is None for r in rows) == 12 - len(
        query(str(small_store), "ensemble_members").rows
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"var": "nope"}, "unknown variable 'nope'"),
        ({"var": "acuracy"}, "did you mean 'accuracy'"),
        (
            {"var": "sw_distance"},
            "'sw_distance' was not computed for this store .*add 'sw_distance' to the spec's",
        ),
        ({"var": "accuracy", "dataset": "x"}, "--dataset x: not in this store"),
        ({"var": "accuracy", "sel": ["sigma"]}, "expected DIM=VALUE"),
        ({"var": "accuracy", "sel": ["layer=foo"]}, r"no such layer; expected one of \['output'\]"),
        ({"var": "accuracy", "sel": ["sigma=abc"]}, "is numeric"),
        ({"var": "accuracy", "sel": ["seed=7"]}, "no such seed"),
        ({"var": "csnr_theory", "mean": ["layer"]}, "has no dim 'layer'"),
    ],
)
def test_errors(small_store, kwargs, match):
    with pytest.raises(QueryError, match=match):
        query(str(small_store), **kwargs)
