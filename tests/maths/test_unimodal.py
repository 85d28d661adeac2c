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


# --- the shape classes -------------------------------------------------------------------------


def _shape_by_hand(curve, tol, flat) -> str:
    """The definition of docs/theory.md §6, written out point by point."""
    c = [x for x in curve if np.isfinite(x)]
    span = max(c) - min(c)
    if span <= flat:
        return "flat"
    slack = tol * span
    peak = c.index(max(c))
    rise, fall = c[peak] - c[0], c[peak] - c[-1]
    ups = [b - a for a, b in zip(c, c[1:])]
    if rise > slack and fall > slack:
        against = [-s for s in ups[:peak]] + ups[peak:]
        if not against or max(against) <= slack:
            return "unimodal"
    if rise <= slack and fall > slack and max(ups) <= slack:
        return "decreasing"
    if fall <= slack and rise > slack and min(ups) >= -slack:
        return "increasing"
    return "other"


def test_shapes_of_hand_made_curves():
    from reprdyn.maths.unimodal import SHAPES, shape_codes

    curves = {
        "unimodal": [0.5, 0.7, 0.9, 0.7, 0.5],
        "decreasing": [0.9, 0.91, 0.7, 0.6, 0.5],  # a bump within the tolerance at the start
        "increasing": [0.5, 0.6, 0.7, 0.8, 0.9],
        "flat": [0.70, 0.704, 0.70, 0.696, 0.70],  # a range below analysis.flat
        "other": [0.9, 0.5, 0.6, 0.5, 0.9],  # a valley
    }
    codes = shape_codes(np.array(list(curves.values())), tol=0.05, flat=0.01)
    assert [SHAPES[c] for c in codes] == list(curves)


def test_shape_codes_match_the_definition_on_random_curves_and_unimodal_is_their_first_row():
    from reprdyn.maths.unimodal import SHAPES, shape_codes

    rng = np.random.default_rng(3)
    walks = np.cumsum(rng.normal(size=(3000, 7)) * rng.uniform(0, 0.1, (3000, 1)), -1)
    peaks = -np.abs(np.arange(7) - rng.integers(0, 7, (3000, 1))) * rng.uniform(0, 0.1, (3000, 1))
    quiet = rng.normal(0, 0.003, (200, 7))
    curves = np.concatenate([walks, peaks + rng.normal(0, 0.01, (3000, 7)), quiet])
    curves[::50, 3] = np.nan  # judged on their finite points
    for tol, flat in [(0.05, 0.01), (0.2, 0.0), (0.0, 0.05)]:
        got = [SHAPES[c] for c in shape_codes(curves, tol, flat)]
        want = [_shape_by_hand(c, tol, flat) for c in curves]
        assert got == want
        assert set(got) >= set(SHAPES) - ({"flat"} if flat == 0 else set())  # all exercised
        uni = [unimodality(np.arange(7), c, tol, flat).unimodal for c in curves]
        assert uni == [g == "unimodal" for g in got]
    assert shape_codes(np.full((2, 5), np.nan)).tolist() == [-1, -1]
