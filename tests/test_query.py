"""Query: tidy tables, nearest selection on float coords, averaging, formats, clear errors."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import reprdyn
from reprdyn.query import QueryError, query, summarize, to_csv, to_json


def test_tidy_table_matches_cube(small_store):
    df = query(str(small_store), "accuracy")
    cube = reprdyn.open(small_store)["toy"]["accuracy"]
    assert list(df.columns) == ["dataset", "sigma", "layer", "label_noise", "seed", "probe", "input", "accuracy"]
    assert len(df) == cube.size
    row = df[(df.seed == 1) & (df.label_noise == 0.4)].iloc[2]
    assert row.accuracy == float(cube.sel(sigma=row.sigma, seed=1, label_noise=0.4).squeeze())


def test_sel_nearest_and_mean(small_store):
    cube = reprdyn.open(small_store)["toy"]["accuracy"]
    df = query(str(small_store), "accuracy", sel=["sigma=0.6", "label_noise=0.4"], mean=["seed"])
    assert len(df) == 1 and "seed" not in df.columns
    assert df.sigma.iloc[0] == pytest.approx(0.5)  # nearest grid value of 0.05..5 (log, 5 points)
    want = float(cube.sel(sigma=0.5, label_noise=0.4, method="nearest").mean("seed").squeeze())
    assert df.accuracy.iloc[0] == pytest.approx(want)


def test_csv_and_json_are_pure_data(small_store):
    df = query(str(small_store), "csnr_theory", dataset="toy")
    back = pd.read_csv(io.StringIO(to_csv(df)))
    assert list(back.columns) == ["dataset", "sigma", "csnr_theory"]
    np.testing.assert_allclose(back.csnr_theory, df.csnr_theory, rtol=1e-5)
    rows = json.loads(to_json(query(str(small_store), "ensemble_members")))
    assert len(rows) == 2 * 2 * 3  # label_noise x seed x member
    assert json.loads(to_json(pd.DataFrame({"a": [1.0, np.nan]}))) == [{"a": 1.0}, {"a": None}]  # NaN -> null


@pytest.mark.parametrize("kwargs, match", [
    ({"var": "nope"}, "unknown variable 'nope'"),
    ({"var": "accuracy", "dataset": "x"}, "--dataset x: not in this store"),
    ({"var": "accuracy", "sel": ["sigma"]}, "expected DIM=VALUE"),
    ({"var": "accuracy", "sel": ["layer=foo"]}, r"no such layer; expected one of \['output'\]"),
    ({"var": "accuracy", "sel": ["sigma=abc"]}, "is numeric"),
    ({"var": "accuracy", "sel": ["seed=7"]}, "no such seed"),
    ({"var": "csnr_theory", "mean": ["layer"]}, "has no dim 'layer'"),
])
def test_errors(small_store, kwargs, match):
    with pytest.raises(QueryError, match=match):
        query(str(small_store), **kwargs)


def test_summary(small_store):
    (row,) = summarize(str(small_store))
    acc = reprdyn.open(small_store)["toy"]["accuracy"].isel(label_noise=0).mean("seed").squeeze()
    assert row.peak_accuracy == pytest.approx(float(acc.max()))
    assert row.peak_sigma == float(acc.sigma[int(acc.argmax("sigma"))])
