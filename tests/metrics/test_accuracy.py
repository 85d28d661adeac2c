"""Metric `accuracy`: selection on validation and test accuracy there, written out by hand on
logits whose answers are known; the gain of the ensemble; the bootstrap off; its rule and its
default."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import BASE, errors, molrg_spec

from reprdyn.metrics import accuracy
from reprdyn.spec import validate_text
from reprdyn.stages.base import Cell

S, T, m, K = 3, 2, 6, 3  # sigmas, targets (label noise x seed), test samples, classes


def _cell(spec, val_correct, right):
    """Logits that answer test sample i right exactly where right[s, t, i]."""
    y = np.arange(m) % K
    logits = np.zeros((S, T, m, K))
    wrong = (y + 1) % K
    for s in range(S):
        for t in range(T):
            logits[s, t, np.arange(m), np.where(right[s, t], y, wrong)] = 1.0
    return Cell(spec=spec, dataset="m", val_correct=val_correct, logits=logits, y_test=y, K=K)


def test_sigma_star_is_chosen_on_validation_and_scored_on_test():
    spec = validate_text(
        molrg_spec(
            sigma="[0.1, 1.0, 2.0]",
            rest="seeds: [0, 1]\nanalysis: {bootstrap: 0}\nensemble: {strategy: all}\n",
        )
    )
    val = np.zeros((S, T, 4))
    val[1, 0] = 1  # target 0: sigma 1.0 is best on validation
    val[2, 1] = 1  # target 1: sigma 2.0
    right = np.zeros((S, T, m), bool)
    right[0] = True  # the test split would have picked sigma 0.1: never read for selection
    right[1, :, :3] = True  # sigma 1.0 answers half
    right[2, :, :2] = True  # sigma 2.0 a third
    out = accuracy.compute(_cell(spec, val, right))
    np.testing.assert_array_equal(out["best_sigma"], [1.0, 2.0])
    np.testing.assert_allclose(out["accuracy"], right.mean(-1))
    np.testing.assert_allclose(out["best_accuracy"], [3 / 6, 2 / 6])
    # soft voting over all three sigmas: every wrong answer is the same class, so a sample is
    # answered right where most sigmas answer it right
    votes = right.sum(0) >= 2  # (T, m)
    np.testing.assert_allclose(out["ensemble_accuracy"], votes.mean(-1))
    np.testing.assert_allclose(out["ensemble_gain"], out["ensemble_accuracy"] - [3 / 6, 2 / 6])
    assert "accuracy_boot" not in out


def test_accuracy_needs_a_classification_probe():
    seg = BASE + "probes: [{kind: seg-linear}]\nmetrics: [accuracy]\n"
    assert any("accuracy needs a classification probe" in e for e in errors(seg))


@pytest.mark.parametrize(
    "raw, default",
    [
        ({}, True),
        ({"probes": [{"kind": "ridge"}]}, True),
        ({"probes": [{"kind": "seg-mlp"}]}, False),
    ],
)
def test_it_is_a_default_where_a_probe_classifies(raw, default):
    assert accuracy.classifies(raw) is default


def test_no_shape_verdict_where_the_unimodality_metric_did_not_run(tmp_path):
    import reprdyn
    from reprdyn.read.summary import summarize

    text = molrg_spec(
        sigma="[0.1, 0.5, 2.0]", rest="metrics: [accuracy]\nanalysis: {bootstrap: 0}\n"
    )
    reprdyn.run(validate_text(text), store=tmp_path / "s.zarr")
    (row,) = summarize(str(tmp_path / "s.zarr"))
    assert row.unimodal == "–" and np.isnan(row.unimodal_prob)
    reprdyn.run(validate_text(text.replace("[accuracy]", "[accuracy, unimodality]")),
                store=tmp_path / "u.zarr")  # fmt: skip
    (row,) = summarize(str(tmp_path / "u.zarr"))
    assert row.unimodal in ("yes", "no")  # the mean curve's shape: no bootstrap, no share


def test_where_fits_disagree_on_sigma_star_the_row_names_every_choice_and_its_csnr():
    from reprdyn.metrics.accuracy import _candidates
    from reprdyn.read.summary.rows import SummaryRow

    best = np.array([[0.3, 0.1, np.nan], [0.1, 0.3, 0.1]])  # (replicate, seed); NaN: not run
    assert _candidates(best) == ((0.1, 0.6), (0.3, 0.4))
    assert _candidates(np.array([0.3, 0.1])) == ((0.1, 0.5), (0.3, 0.5))  # a tie: both, lower first
    nan = float("nan")
    row = SummaryRow(
        "d", "", "mid", "clean", "ridge", 0.1, 0.6, (nan, nan), *([None] * 4), 3.9, 0.3, 0.3,
        0.9, "–", nan, 2, 3, candidates=((0.1, 0.6), (0.3, 0.4)), csnr_at_candidates=(3.9, 1.0),
    )  # fmt: skip
    assert row.best_sigma_label == "0.1 (60%) / 0.3 (40%)"
    assert row.csnr_label == "3.9 / 1"
