"""`--sel DIM=VALUE`: parsed once, the nearest value on a float grid (with a note), exact values
on integer and string coordinates, and errors that say what would be valid."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from reprdyn.errors import QueryError
from reprdyn.read.selection import parse, pick, select

SIGMA = np.geomspace(0.05, 5, 5)  # 0.05, 0.158, 0.5, 1.58, 5


def test_parse_splits_at_the_first_equals_and_trims():
    assert parse(["sigma=0.5", " layer = a=b "]) == [("sigma", "0.5"), ("layer", "a=b")]
    for bad in ("sigma", "=0.5", "sigma= "):
        with pytest.raises(QueryError, match="expected DIM=VALUE"):
            parse([bad])


def test_float_coordinates_take_the_nearest_value_and_say_so():
    notes: list[str] = []
    assert pick(SIGMA, "sigma", "0.6", ("sigma",), notes) == int(np.argmin(abs(SIGMA - 0.6)))
    assert notes == ["--sel sigma=0.6: took the nearest grid value, sigma=0.5"]
    notes.clear()
    assert pick(SIGMA, "sigma", str(SIGMA[3]), ("sigma",), notes) == 3 and notes == []


@pytest.mark.parametrize("value, ok", [(9.9, True), (10.1, False), (-9.9, True), (-10.5, False)])
def test_a_float_value_at_most_one_step_beyond_either_end(value, ok):
    grid = np.array([-5.0, 0.0, 5.0])  # a step of 5 at both ends: values in [-10, 10] are taken
    if ok:
        assert pick(grid, "x", str(value), ("x",), []) == (2 if value > 0 else 0)
    else:
        with pytest.raises(QueryError, match="outside the grid, which runs from -5 to 5"):
            pick(grid, "x", str(value), ("x",), [])


def test_integer_and_string_coordinates_need_an_existing_value():
    assert pick(np.array([0, 1, 2]), "seed", "2", ("seed",), []) == 2
    with pytest.raises(QueryError, match=r"no such seed; expected one of \[0, 1, 2\]"):
        pick(np.array([0, 1, 2]), "seed", "3", ("seed",), [])
    with pytest.raises(QueryError, match="'seed' is numeric; give a number"):
        pick(np.array([0, 1, 2]), "seed", "one", ("seed",), [])
    with pytest.raises(QueryError, match="did you mean 'output'"):
        pick(np.array(["mid", "output"]), "layer", "outptu", ("layer",), [])
    with pytest.raises(QueryError, match=r"there is no dim 'lyr'; the dims are \['layer'\]"):
        pick(None, "lyr", "mid", ("layer",), [])


def test_select_keeps_every_dim():
    ds = xr.Dataset(
        {"a": (("sigma", "layer"), np.arange(10.0).reshape(5, 2))},
        coords={"sigma": SIGMA, "layer": ["mid", "output"]},
    )
    out = select(ds, ["sigma=0.5", "layer=output"])
    assert out["a"].dims == ("sigma", "layer") and out["a"].values.tolist() == [[5.0]]
