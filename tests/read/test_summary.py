"""The run summary: headlines chosen on validation, means over replicates and seeds, intervals from
the hierarchical bootstrap, verdicts at the spec's confidence and tolerance."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SMALL

import reprdyn
from reprdyn.read.summary import Interval, compare, summarize


def test_summary_headline_is_chosen_on_validation(small_store):
    """sigma* and acc@sigma* are the cube's validation choice (best_sigma, best_accuracy), never the
    test curve's maximum, which is reported only as the labelled test-curve peak."""
    (row,) = summarize(str(small_store))
    ds = reprdyn.open(small_store)["toy"].sel(label_noise=0).squeeze()
    assert row.best_sigma == float(ds["best_sigma"].isel(seed=0)) and row.best_sigma_agree == 1.0
    assert row.best_accuracy.value == pytest.approx(float(ds["best_accuracy"].mean("seed")))
    assert row.val_accuracy == pytest.approx(float(ds["val_accuracy"].max("sigma").mean("seed")))
    assert row.ensemble_accuracy.value == pytest.approx(float(ds["ensemble_accuracy"].mean("seed")))
    acc = ds["accuracy"].mean("seed")
    assert row.test_peak_accuracy == pytest.approx(float(acc.max()))
    assert row.test_peak_sigma == float(acc.sigma[int(acc.argmax("sigma"))])
    assert row.replicates == 1 and row.seeds == 2


def test_summary_sigma_does_not_move_when_the_test_curve_does(small_spec, tmp_path, monkeypatch):
    """Raise the test accuracy at one sigma far above the rest: the test-curve peak moves there, the
    validation-chosen sigma* does not."""
    import reprdyn.probes.protocol as tasks

    real = tasks.evaluate

    def rigged(test_logits, y_test, best, members, K):
        acc, cls, ens = real(test_logits, y_test, best, members, K)
        acc[0] = 1.0  # the smallest sigma looks perfect on test
        return acc, cls, ens

    monkeypatch.setattr(tasks, "evaluate", rigged)
    reprdyn.run(small_spec, store=tmp_path / "r.zarr")
    (row,) = summarize(str(tmp_path / "r.zarr"))
    assert row.test_peak_sigma == pytest.approx(0.05) and row.test_peak_accuracy == 1.0
    assert row.best_sigma > 0.05 and row.best_accuracy.value < 1.0


def test_one_replicate_and_one_seed_give_the_cells_own_interval(tmp_path):
    """With nothing to resample but the test and validation samples, the hierarchical interval is
    the stored per-cell interval."""
    spec_file = tmp_path / "one.yaml"
    spec_file.write_text(SMALL.replace("seeds: [0, 1]", "seeds: [0]"))
    spec = reprdyn.load_spec(spec_file)
    reprdyn.run(spec, store=tmp_path / "one.zarr")
    (row,) = summarize(str(tmp_path / "one.zarr"))
    ci = reprdyn.open(tmp_path / "one.zarr")["toy"]["best_accuracy_ci"].sel(label_noise=0).squeeze()
    assert (row.best_accuracy.low, row.best_accuracy.high) == tuple(ci.values.tolist())


def test_summary_reads_the_lowest_label_noise_by_value(tmp_path):
    """label_noise: [0.4, 0] is the same experiment as [0, 0.4]: sorted on load, summarised at 0."""
    for name, levels in (("a", "[0.0, 0.4]"), ("b", "[0.4, 0]")):
        (tmp_path / f"{name}.yaml").write_text(SMALL.replace("[0.0, 0.4]", levels))
        spec = reprdyn.load_spec(tmp_path / f"{name}.yaml")
        assert spec.label_noise == [0.0, 0.4]
        reprdyn.run(spec, store=tmp_path / f"{name}.zarr")
    a, b = (summarize(str(tmp_path / f"{n}.zarr"))[0] for n in "ab")
    assert a.best_accuracy == b.best_accuracy


def test_summary_verdict_uses_the_specs_tolerance(tmp_path):
    """The summary judges unimodality with analysis.tolerance, as the stored variable does."""
    text = SMALL + "analysis: {tolerance: 0.9, bootstrap: 0}\n"
    (tmp_path / "t.yaml").write_text(text)
    spec = reprdyn.load_spec(tmp_path / "t.yaml")
    reprdyn.run(spec, store=tmp_path / "t.zarr")
    (row,) = summarize(str(tmp_path / "t.zarr"))
    stored = reprdyn.open(tmp_path / "t.zarr")["toy"]["unimodal"].sel(label_noise=0)
    assert not stored.values.any() and row.unimodal == "no"
    assert np.isnan(row.best_accuracy.low) and "[" not in str(row.best_accuracy)


def test_comparisons_list_the_ensemble_gain_with_its_interval(small_store):
    rows = compare(str(small_store))
    assert [r.comparison for r in rows] == ["ensemble_gain"]
    (row,) = rows
    ds = reprdyn.open(small_store)["toy"].sel(label_noise=0).squeeze()
    gain = ds["ensemble_accuracy"] - ds["best_accuracy"]
    assert row.difference.value == pytest.approx(float(gain.mean("seed")))
    assert row.difference.low <= row.difference.value <= row.difference.high


@pytest.mark.parametrize(
    ("low", "high", "sign"),
    [(0.01, 0.03, "> 0"), (-0.03, -0.01, "< 0"), (-0.01, 0.01, "within noise")],
)
def test_interval_sign(low, high, sign):
    assert Interval(0.0, low, high).sign == sign
    assert Interval(0.02, np.nan, np.nan).sign == "n/a"


def test_interval_text():
    assert str(Interval(0.5842, 0.571, 0.593)) == "0.584 [0.571, 0.593]"
    assert Interval(0.012, 0.004, 0.02).signed() == "+0.012 [+0.004, +0.020]"
    assert str(Interval(0.5, np.nan, np.nan)) == "0.500"
