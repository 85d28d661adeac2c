"""The stack contract: a pair's logits are those it would have alone, bit for bit, for every probe
kind, because each of its matrix products has the pair's own shape (`affine` and its kin).

Bit-equality is sound here: the pair's numbers go through the same kernels on the same shapes in
every stack; only how many of them there are changes. A T-wide einsum broke this (one float32 ulp
on an AVX-512 CPU with MKL), which these tests would catch on such a machine.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import stack

from reprdyn.probes import corrupt_labels
from reprdyn.probes.base import affine
from reprdyn.probes.kinds import registry
from reprdyn.probes.segmentation import SegLinear

SETTINGS = {
    "ridge": [{"selection": "gcv"}, {"selection": "loo"}, {"selection": "val"}],
    "logistic": [{"C": 1.0}, {"C": [0.1, 1.0]}],
    "bn-linear": [{"epochs": 3, "batch_size": 64, "lr": 0.01}],
    "mlp": [{"epochs": 3, "batch_size": 64, "lr": 0.01, "hidden": 16}],
    "knn": [{"k": 5}, {"k": 20, "standardize": True}],
    "attentive": [{"epochs": 3, "batch_size": 64, "lr": 0.01, "heads": 2, "head_dim": 4}],
}
# the per-sigma classification probes (joint ones read every cell at once: test_joint.py)
CLASSIFY = [k for k, block in registry().items() if block.pixels is None and not block.joint]
CASES = [(kind, kw) for kind in CLASSIFY for kw in SETTINGS[kind]]


def test_every_probe_kind_is_covered():
    assert set(SETTINGS) == set(CLASSIFY)


def test_affine_equals_the_product_it_names():
    g = torch.Generator().manual_seed(0)
    X, W, b = (
        torch.randn(*s, generator=g, dtype=torch.float64)
        for s in [(2, 5, 4), (2, 3, 4, 6), (2, 3, 6)]
    )
    want = torch.einsum("smd,stdk->stmk", X, W) + b[:, :, None]
    torch.testing.assert_close(affine(X, W, b), want, rtol=1e-14, atol=1e-14)


def _targets(y, T):
    rng = np.random.default_rng(1)
    return np.stack([y] + [corrupt_labels(y, 0.15 * k, 3, rng) for k in range(1, T)])


@pytest.mark.parametrize(("kind", "kw"), CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_a_pair_does_not_depend_on_its_stack_neighbours(kind, kw):
    """Target set 0 alone, beside one other and beside four; sigma 1 alone and in the stack."""
    X, y = stack(3, n=400, D=24)
    Y = _targets(y, 5)
    fit, val, test = slice(0, 250), slice(250, 320), slice(320, 400)

    def logits(S, T):
        # each pair's seed from its coordinates, as the probe stage derives it
        seeds = (100 * np.arange(3)[:, None] + np.arange(T)[None])[S]
        probe = registry()[kind](kind=kind, **kw).estimator(3)
        probe = probe.fit(X[S, fit], Y[:T, fit], X[S, val], Y[:T, val], seeds)
        return probe.decision_function(X[S, test])  # (S, T, m, K)

    alone = logits(slice(None), 1)
    for T in (2, 5):
        torch.testing.assert_close(logits(slice(None), T)[:, :1], alone, rtol=0, atol=0)
    torch.testing.assert_close(logits(slice(1, 2), 2)[:, :1], alone[1:2], rtol=0, atol=0)


def test_seg_linear_label_sets_do_not_depend_on_each_other():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 16)) + 2
    Y = np.stack([rng.integers(0, 3, 600) for _ in range(4)])

    def scores(T):
        probe = SegLinear(3, [1e-3, 0.1, 1.0])
        for a in range(0, 600, 200):
            probe.partial_fit(X[a : a + 200], Y[:T, a : a + 200])
        return probe.solve().decision_function(X[:50])  # (T, L, m, K)

    one = scores(1)
    torch.testing.assert_close(scores(4)[:1], one, rtol=0, atol=0)
