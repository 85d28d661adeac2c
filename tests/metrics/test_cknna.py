"""Metric `cknna`: CKNNA between every pair of sigmas, against the definition of Huh et al. (2024)
written out with loops over samples."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SMALL

from reprdyn.maths.distances import cknna_matrix
from reprdyn.metrics import cknna
from reprdyn.spec import validate_text
from reprdyn.stages.base import Cell


def _cknna_by_hand(A, B, k):
    """Mutual k-NN alignment with Song et al.'s unbiased HSIC, one sample pair at a time."""
    n = len(A)

    def kernel(X):
        Z = [x / np.linalg.norm(x) for x in X]
        return [[float(np.dot(Z[i], Z[j])) for j in range(n)] for i in range(n)]

    def neighbours(K):
        return [set(sorted((j for j in range(n) if j != i), key=lambda j: -K[i][j])[:k])
                for i in range(n)]  # fmt: skip

    def hsic(K, L):
        Kt = [[0.0 if i == j else K[i][j] for j in range(n)] for i in range(n)]
        Lt = [[0.0 if i == j else L[i][j] for j in range(n)] for i in range(n)]
        trace = sum(Kt[i][j] * Lt[j][i] for i in range(n) for j in range(n))
        sk, sl = sum(map(sum, Kt)), sum(map(sum, Lt))
        kl = sum(Kt[i][m] * Lt[m][j] for i in range(n) for m in range(n) for j in range(n))
        return (trace + sk * sl / ((n - 1) * (n - 2)) - 2 * kl / (n - 2)) / (n * (n - 3))

    def aligned(K, L, NK, NL):
        def keep(X):
            return [[X[i][j] if (j in NK[i] and j in NL[i]) else 0.0 for j in range(n)]
                    for i in range(n)]  # fmt: skip

        return hsic(keep(K), keep(L))

    K, L = kernel(A), kernel(B)
    NK, NL = neighbours(K), neighbours(L)
    return aligned(K, L, NK, NL) / np.sqrt(aligned(K, K, NK, NK) * aligned(L, L, NL, NL))


def test_cknna_matches_the_definition_written_out():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 5))
    Y = X @ rng.normal(size=(5, 4)) + 0.5 * rng.normal(size=(24, 4))  # related, not the same
    W = rng.normal(size=(24, 6))  # unrelated
    got = cknna_matrix([X, Y, W], k=5)
    for (i, a), (j, b) in [((0, X), (1, Y)), ((1, Y), (0, X)), ((0, X), (2, W))]:
        assert got[i, j] == pytest.approx(_cknna_by_hand(a, b, 5), rel=1e-10)
    np.testing.assert_allclose(np.diag(got), 1.0)
    assert got[0, 1] > got[0, 2] + 0.2  # related features align more than unrelated ones


def test_cknna_ignores_rotation_and_the_length_of_each_feature_vector():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 6))
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    scaled = (X @ Q) * rng.uniform(0.5, 3.0, size=(40, 1))
    np.testing.assert_allclose(cknna_matrix([X, scaled], k=10), 1.0, rtol=1e-10)


def test_the_metric_fills_its_sigma_pairs_and_k_is_a_setting():
    spec = validate_text(SMALL + "cknna: {k: 4}\nmetrics: [accuracy, cknna]\n")
    rng = np.random.default_rng(2)
    X = [rng.normal(size=(30, 3)) for _ in range(5)]
    got = cknna.compute(Cell(spec=spec, X=X))["cknna"]
    assert got.shape == (1, 1, 5, 5)
    assert got[0, 0, 1, 2] == pytest.approx(_cknna_by_hand(X[1], X[2], 4), rel=1e-10)


def test_k_must_be_below_the_analysis_subset():
    from helpers import errors

    (msg,) = errors(SMALL + "analysis: {max_samples: 8}\ncknna: {k: 8}\nmetrics: [cknna]\n")
    assert msg.startswith("s.yaml:13:12: cknna.k: cknna.k = 8 needs more than k samples")


def test_between_models_it_is_cknna_of_their_stored_features(tmp_path, shared_cache):
    import reprdyn
    from reprdyn.stages.analysis import _subset

    net = "network: {kind: mlp, width: 16}, precond: {kind: edm}"
    text = (
        "spec_version: 1\nname: two\nmodels:\n"
        f"  a: {{kind: diffusion, {net}, train: {{data: m, steps: 20}}}}\n"
        f"  b: {{kind: dae, {net}, train: {{data: m, steps: 20}}, train_sigma: 0.5}}\n"
        "datasets:\n  - {kind: molrg, name: m, n: 8, K: 2, d: 2, delta: 0.3, n_train: 60, "
        "n_test: 40}\nsigma: [0.1, 1.0]\nlayers: [fc1]\nmetrics: [accuracy, cknna]\n"
        "analysis: {bootstrap: 0}\ncknna: {k: 5}\n"
    )
    spec = validate_text(text, overrides=[f"compute.cache={shared_cache}"])
    reprdyn.run(spec, store=tmp_path / "t.zarr")
    res = reprdyn.open(tmp_path / "t.zarr")
    got = res["m"]["cknna_models"].sel(replicate=0, layer="fc1", input="clean")  # (model, S, ref)
    feats = res.features("m", "fc1")["features"].sel(replicate=0, input="clean")
    split = res.data("m")["split"].values
    test = np.flatnonzero(split == "test")
    rows = test[_subset(len(test), spec.analysis.max_samples, spec.analysis.seed)]
    for s, sigma in enumerate(spec.sigmas):
        X = [feats.sel(model=m, sigma=sigma).values[rows].astype(np.float64) for m in "ab"]
        want = cknna_matrix(X, 5)  # (model, model_ref)
        np.testing.assert_allclose(got.isel(sigma=s).transpose("model", "model_ref"), want)
    assert np.allclose(np.diagonal(got.values, axis1=0, axis2=2), 1.0)
