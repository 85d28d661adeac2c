"""Metric `csnr`: the streamed per-class moments are the train rows' whatever the blocks, and on
MoLRG's output with the true bases the metric is Definition 1's ratio of means over the samples,
written out here; its settings and rule."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
from helpers import BASE, errors, molrg_spec

from reprdyn.metrics import csnr
from reprdyn.spec import validate_text
from reprdyn.stages.base import Cell

K, d, n = 3, 2, 12


def _data(rows: int = 300, seed: int = 0):
    """MoLRG-like rows: class k lives on its own orthonormal U_k (n x d), plus a little noise."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    U = np.stack([Q[:, k * d : (k + 1) * d] for k in range(K)])  # (K, n, d)
    y = rng.integers(0, K, rows)
    x = np.stack([U[k] @ rng.normal(size=d) for k in y]) + 0.3 * rng.normal(size=(rows, n))
    split = np.where(np.arange(rows) < 200, "train", "test")
    return NS(x=x, y=y, split=split, n_classes=K, extras={"U": (("class", "n", "d"), U)}), U


def test_streamed_moments_do_not_depend_on_the_blocks():
    data, _ = _data()
    cell = NS(data=data)
    one, many = csnr.Moments(cell), csnr.Moments(cell)
    one.update("output", 0, data.x)
    for start in range(0, len(data.x), 37):
        many.update("output", start, data.x[start : start + 37])
    a, b = one.layers["output"], many.layers["output"]
    np.testing.assert_allclose(a.second_moment(), b.second_moment(), rtol=1e-12)
    train = data.split == "train"
    for k in range(K):
        f = data.x[train & (data.y == k)]
        np.testing.assert_allclose(a.second_moment()[k], f.T @ f / len(f), rtol=1e-12)


def test_with_the_true_bases_it_is_definition_1_on_the_samples():
    spec = validate_text(molrg_spec())  # layers: output, basis auto: the true bases
    data, U = _data()
    moments = csnr.Moments(NS(data=data))
    moments.update("output", 0, data.x)
    cell = Cell(spec=spec, data=data, observed={"csnr": [moments]})
    out = csnr.compute(cell)
    train = data.split == "train"
    f, y = data.x[train], data.y[train]
    energy = np.stack([np.sum((f @ U_l) ** 2, 1) for U_l in U], 1)  # (m, K): ||U_l^T f||^2
    on = energy[np.arange(len(y)), y]
    off = energy.sum(1) - on
    per = [on[y == k].mean() / off[y == k].mean() for k in range(K)]
    np.testing.assert_allclose(out["csnr"][0, 0, 0], per, rtol=1e-10)
    np.testing.assert_allclose(out["csnr_overall"][0, 0, 0], on.mean() / off.mean(), rtol=1e-10)


def test_settings_and_the_truth_rule():
    assert validate_text(BASE + "csnr: {center: true}\n").csnr.center == "class"  # old spelling
    head = "spec_version: 1\nname: t\nmodel: {kind: molrg-optimal}\nsigma: [0.5]\n"
    text = head + "datasets: [{kind: digits, name: m}]\ncsnr: {basis: truth}\n"
    assert any("basis 'truth' needs molrg datasets" in e for e in errors(text))
