"""Joint probes over every (layer, sigma) cell: concat is ridge on the concatenation; aggregate
learns mixing weights that find the one informative cell."""

from __future__ import annotations

import numpy as np
import torch
from helpers import stack

from reprdyn.probes.joint import AggregateProbe, ConcatProbe
from reprdyn.probes.ridge import RidgeProbe


def _cells(seed=0, n=300):
    """Two layers over three sigmas; only (layer 1, sigma 2) carries the labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    Xs = [rng.normal(size=(3, n, 4)), rng.normal(size=(3, n, 5))]
    Xs[1][2] += 3 * np.eye(3, 5)[y]
    return Xs, y


def test_concat_is_ridge_on_the_standardised_cells_side_by_side():
    Xs, y = _cells()
    fit, test = slice(0, 200), slice(200, 300)
    got = ConcatProbe(3).fit([x[:, fit] for x in Xs], y[None, fit])
    got = got.decision_function([x[:, test] for x in Xs])  # (T, m, K)
    flat = np.concatenate([np.moveaxis(x, 0, 1).reshape(300, -1) for x in Xs], 1)  # (n, L*S*C)
    mean, sd = flat[fit].mean(0), flat[fit].std(0)
    ref = RidgeProbe(3, standardize=False).fit(((flat[fit] - mean) / sd)[None], y[None, fit])
    want = ref.decision_function(((flat[test] - mean) / sd)[None])[0]
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_aggregate_weighs_the_informative_cell_most_and_its_weights_sum_to_one():
    Xs, y = _cells(1, n=400)
    probe = AggregateProbe(3, width=8, epochs=40, batch_size=64, lr=0.01)
    probe.fit([x[:, :300] for x in Xs], y[None, :300], seeds=[7])
    w = probe.mixing_  # (T, L, S)
    assert w.shape == (1, 2, 3) and np.isclose(w.sum(), 1.0)
    assert np.unravel_index(w[0].argmax(), (2, 3)) == (1, 2)
    acc = (probe.predict([x[:, 300:] for x in Xs])[0].numpy() == y[300:]).mean()
    assert acc > 0.9


def test_each_label_set_is_fitted_alone_from_its_own_seed():
    Xs, y = _cells(2, n=200)
    Y = np.stack([y, (y + 1) % 3])

    def logits(T, seeds):
        p = AggregateProbe(3, width=4, epochs=3, batch_size=50)
        p.fit([x[:, :150] for x in Xs], Y[:T, :150], seeds=seeds)
        return p.decision_function([x[:, 150:] for x in Xs])

    torch.testing.assert_close(logits(2, [5, 6])[:1], logits(1, [5]), rtol=0, atol=0)
    assert not torch.equal(logits(1, [5]), logits(1, [6]))  # the seed is used


def test_a_stack_of_one_sigma_and_one_layer_works():
    X, y = stack(3, S=1, n=200, D=6)
    p = ConcatProbe(3).fit([X[:, :150]], y[None, :150])
    assert p.predict([X[:, 150:]]).shape == (1, 50)
