"""Unimodality of a curve, one at a time and many at once."""

from __future__ import annotations

import numpy as np

from reprdyn.maths.unimodal import unimodal_many, unimodality


def test_unimodality_flags():
    s = np.arange(7.0)
    u = unimodality(s, [1, 2, 4, 5, 3, 2, 1])
    assert u.unimodal and u.peak_sigma == 3 and u.rise == 4 and u.fall == 4
    assert not unimodality(s, [1, 2, 3, 4, 5, 6, 7]).unimodal  # peak at the edge
    assert not unimodality(s, [1, 5, 1, 5, 1, 5, 1]).unimodal  # several peaks
    assert unimodality(s, [1, 2, 4, 3.98, 5, 3, 1], tol=0.05).unimodal  # a dip inside the tolerance
    assert not unimodality(s, [np.nan] * 7).unimodal
    assert not unimodality(s, [0.5] * 7).unimodal  # flat: no rise, no fall
    assert not unimodality(s, [7, 6, 5, 4, 3, 2, 1]).unimodal  # monotone down


def test_unimodality_on_noisy_curves():
    """A noisy unimodal curve passes at a tolerance above its noise and fails below it."""
    s = np.geomspace(0.01, 10, 16)
    clean = np.exp(-(np.log(s / 0.5) ** 2) / 4)  # peak at sigma = 0.5, range about 1
    noisy = clean + np.random.default_rng(0).uniform(-0.01, 0.01, len(s))
    u = unimodality(s, noisy, tol=0.05)
    assert u.unimodal and abs(np.log(u.peak_sigma / 0.5)) < 0.5
    assert not unimodality(
        s, clean + np.random.default_rng(0).uniform(-0.2, 0.2, len(s)), tol=0.05
    ).unimodal


def test_unimodal_many_equals_the_one_curve_version():
    rng = np.random.default_rng(4)
    base = np.sin(np.linspace(0.3, 2.8, 8))
    curves = base + 0.08 * rng.standard_normal((500, 8))
    curves[:20] = np.round(curves[:20], 1)  # ties
    curves[20:30] = curves[20:30, ::-1].cumsum(-1)  # monotone
    curves[30, 3] = np.nan  # judged one by one
    curves[31] = 0.5  # flat
    for tol in (0.0, 0.05, 0.3):
        fast = unimodal_many(curves, tol)
        slow = [unimodality(np.arange(8), c, tol).unimodal for c in curves]
        assert fast.tolist() == slow
