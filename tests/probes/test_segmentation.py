"""The streamed segmentation ridge equals ridge on every pixel at once."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Ridge


def test_seg_linear_streamed_equals_ridge_on_all_pixels_at_once():

    from reprdyn.probes.segmentation import SegLinear

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6)) * [1, 2, 3, 0.5, 1, 10] + 3
    Y = np.stack([rng.integers(0, 3, 500), rng.integers(0, 3, 500)])  # two label sets
    lambdas = [1e-3, 0.1, 1.0]
    streamed = SegLinear(3, lambdas)
    for a in range(0, 500, 64):  # pixels arrive in slices
        streamed.partial_fit(X[a : a + 64], Y[:, a : a + 64])
    streamed.solve()
    mu, sd = X.mean(0), X.std(0)
    for t in range(2):
        for i, lam in enumerate(lambdas):
            # ridge on standardised features with penalty lambda * n (our lambda is per pixel)
            r = Ridge(alpha=lam * 500).fit((X - mu) / sd, np.eye(3)[Y[t]])
            want = r.predict((X[:7] - mu) / sd)
            got = streamed.decision_function(X[:7])[t, i].numpy()
            np.testing.assert_allclose(got, want, atol=1e-9)
