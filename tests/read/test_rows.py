"""The summary's rows: how an interval is written and signed, which coordinate columns a table
gets, what its interval note says, and JSON with NaN as null."""

from __future__ import annotations

import json
import math

import pytest

from reprdyn.read.summary.rows import (
    GAIN_COLUMNS,
    GainRow,
    Interval,
    as_cells,
    interval_note,
    lead_columns,
    summary_json,
)

NAN = float("nan")
NOISE = "within noise"  # an interval that holds zero


@pytest.mark.parametrize(
    "interval, text, signed, sign",
    [
        ((0.5841, 0.5712, 0.5933), "0.584 [0.571, 0.593]", "+0.584 [+0.571, +0.593]", "> 0"),
        ((-0.015, -0.022, -0.008), "-0.015 [-0.022, -0.008]", "-0.015 [-0.022, -0.008]", "< 0"),
        ((0.002, -0.001, 0.004), "0.002 [-0.001, 0.004]", "+0.002 [-0.001, +0.004]", NOISE),
        ((0.3,), "0.300", "+0.300", "n/a"),
        ((NAN,), "–", "–", "n/a"),
    ],
)
def test_an_interval_as_text(interval, text, signed, sign):
    interval = Interval(*interval)
    assert (str(interval), interval.signed(), interval.sign) == (text, signed, sign)


def _gain(point="", model=""):
    return GainRow("d", model, "mid", "clean", "ridge", 0.4, Interval(0.8, 0.78, 0.82),
                   Interval(0.83, 0.81, 0.85), Interval(0.03, 0.01, 0.05), point=point)  # fmt: skip


def test_coordinate_columns_only_where_they_vary():
    assert lead_columns([_gain()]) == ("dataset", "layer", "input", "probe", "label noise")
    swept = lead_columns([_gain("n=64", "a")])
    assert swept == ("point", "dataset", "model", "layer", "input", "probe", "label noise")
    header, body = as_cells([_gain()], GAIN_COLUMNS)
    assert header[4:] == ["label noise", "best single σ", "ensemble", "gain", "at the confidence"]
    assert body == [["d", "mid", "clean", "ridge", "0.4", "0.800 [0.780, 0.820]",
                     "0.830 [0.810, 0.850]", "+0.030 [+0.010, +0.050]", "> 0"]]  # fmt: skip


def test_the_interval_note_names_its_sources():
    assert interval_note([], 0.95, 1000) == "no intervals (analysis.bootstrap: 0)"
    row = type("R", (), {"replicates": 3, "seeds": 2})()
    note = interval_note([row], 0.95, 500)
    assert "95% interval" in note and "3 model replicate(s), 2 seed(s) and 500 paired" in note


def test_json_writes_nan_as_null():
    (row,) = json.loads(summary_json([GainRow("d", "", "mid", "clean", "ridge", 0.0, Interval(0.5),
                                               Interval(NAN), Interval(NAN))]))  # fmt: skip
    assert row["best_accuracy"] == {"value": 0.5, "low": None, "high": None}
    assert row["ensemble_gain"]["value"] is None and not math.isnan(row["label_noise"])
