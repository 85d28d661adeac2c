"""The classification protocol: splits, label noise, selection on validation, evaluation, and no
leakage of test labels; the paired bootstrap of one cell."""

from __future__ import annotations

import numpy as np
import pytest
import xarray.testing as xrt
from helpers import SMALL

import reprdyn
from reprdyn.probes.protocol import choose, evaluate, noisy_labels, val_split
from reprdyn.seeds import derive_seed
from reprdyn.spec import validate_text


def test_val_split_is_fixed_and_stratified(small_spec):
    y = np.repeat(np.arange(3), 100)
    fit, hold = val_split(small_spec, "toy", y)
    again = val_split(small_spec, "toy", y)
    np.testing.assert_array_equal(fit, again[0])
    assert len(hold) == 60 and np.all(np.bincount(y[hold]) == 20)
    assert not set(fit) & set(hold)


def test_noisy_labels_grid(small_spec):
    y = np.random.default_rng(0).integers(0, 3, 300)
    Y = noisy_labels(small_spec, "toy", y, 3)  # label_noise [0, 0.4] x seeds [0, 1]
    assert Y.shape == (4, 300)
    np.testing.assert_array_equal(Y[0], y)
    np.testing.assert_array_equal(Y[1], y)
    assert (Y[2] != y).sum() == 120 and (Y[3] != y).sum() == 120 and not np.array_equal(Y[2], Y[3])


def test_choose_and_evaluate():
    val = np.array([[0.2, 0.9], [0.8, 0.1], [0.5, 0.3]])  # (S, T)
    from reprdyn.spec.probes import Ensemble

    best, members = choose(val, Ensemble(k=1))
    assert best.tolist() == [1, 0] and [m.tolist() for m in members] == [[0, 1, 2], [0, 1]]
    logits = np.zeros((3, 2, 4, 2))
    logits[1, 0, :, 1] = 1  # sigma 1 says class 1 for everything
    acc, cls, ens = evaluate(logits, np.array([1, 1, 0, 0]), best, members, 2)
    assert acc[1, 0] == 0.5 and cls[1, 0].tolist() == [0.0, 1.0] and ens[0] == 0.5


def test_selection_never_reads_test_labels(small_spec, tmp_path, monkeypatch):
    """Shuffle the test labels: selection (val accuracy, best sigma, members) must not move."""
    from reprdyn.runner.context import DataCache

    reprdyn.run(small_spec, store=tmp_path / "a.zarr")
    real = DataCache.get

    def shuffled(self, name):
        d = real(self, name)
        test = d.split == "test"
        d.y[test] = np.random.default_rng(9).permutation(d.y[test])
        return d

    monkeypatch.setattr(DataCache, "get", shuffled)
    reprdyn.run(small_spec, store=tmp_path / "b.zarr")
    a, b = (
        reprdyn.open(tmp_path / "a.zarr")["toy"].load(),
        reprdyn.open(tmp_path / "b.zarr")["toy"].load(),
    )
    for v in ("val_accuracy", "best_sigma", "ensemble_members"):
        xrt.assert_identical(a[v], b[v])
    assert not a["accuracy"].equals(b["accuracy"])  # the test numbers did change


@pytest.mark.parametrize("strategy", ["neighbours", "all", "top"])
def test_resampled_cell_is_the_loop_over_resamples(strategy):
    """The batched bootstrap of one probe cell against a loop that, for each resample, redraws
    the validation and test samples by index, re-chooses sigma* and the ensemble with `select`, and
    scores them with `soft_vote` and `accuracy`."""
    from reprdyn.maths.uncertainty import interval
    from reprdyn.probes.ensemble import accuracy, select, soft_vote
    from reprdyn.probes.protocol import bootstrap_counts, resampled

    spec = validate_text(
        SMALL.replace("ensemble: {k: 1}", f"ensemble: {{strategy: {strategy}, k: 1, m: 2}}")
        + "analysis: {bootstrap: 60}\n"
    )
    rng = np.random.default_rng(0)
    S, T, nv, m, K = 5, 4, 30, 40, 3
    val_correct = rng.random((S, T, nv)) < np.linspace(0.4, 0.8, S)[:, None, None]
    logits = rng.standard_normal((S, T, m, K))
    y = rng.integers(0, K, m)
    acc_b, best_b, ens_b, freq = resampled(spec, "toy", val_correct, logits, y)
    got = {
        "accuracy_boot": acc_b,
        "best_accuracy_boot": best_b,
        "ensemble_accuracy_boot": ens_b,
        "sigma_star_freq": freq,
        "best_accuracy_ci": interval(best_b, spec.analysis.confidence),
    }
    seed = lambda part: derive_seed(spec.seed, "toy", "bootstrap", part, spec.analysis.seed)  # noqa: E731
    iv = np.random.default_rng(seed("val")).integers(0, nv, size=(60, nv), dtype=np.int32)
    it = np.random.default_rng(seed("test")).integers(0, m, size=(60, m), dtype=np.int32)
    np.testing.assert_array_equal(
        bootstrap_counts(spec, "toy", "val", nv)[0], np.bincount(iv[0], minlength=nv)
    )
    for b in range(60):
        for t in range(T):
            val = val_correct[:, t][:, iv[b]].mean(-1)  # (S,)
            best, members = select(val, strategy, 1, 2)
            acc = [accuracy(logits[s, t][it[b]].argmax(-1), y[it[b]], K)[0] for s in range(S)]
            ens = (soft_vote(logits[:, t], members)[it[b]].argmax(-1) == y[it[b]]).mean()
            np.testing.assert_allclose(got["accuracy_boot"][:, t, b], acc, rtol=0, atol=1e-12)
            assert got["best_accuracy_boot"][t, b] == pytest.approx(acc[best], abs=1e-12)
            assert got["ensemble_accuracy_boot"][t, b] == pytest.approx(ens, abs=1e-12)
    chosen = got["sigma_star_freq"]  # (S, T): shares of resamples
    np.testing.assert_allclose(chosen.sum(0), 1)
    ci = got["best_accuracy_ci"]
    assert ci.shape == (T, 2) and (ci[:, 0] <= ci[:, 1]).all()
