"""Metric `unimodality`: the shape of each test-accuracy curve across sigma — its peak, its rise
and fall, whether it rises to an interior peak and falls within the tolerance, and the share of
bootstrap resamples in which it does (docs/theory.md §6, §8)."""

from __future__ import annotations

import numpy as np

from .accuracy import classifies
from .base import PROBE_DIMS, Metric, Stage, Variable, bootstrapped


def _v(description, **kw) -> Variable:
    return Variable(PROBE_DIMS, description, **kw)


VARIABLES = {
    "peak_sigma": _v(
        "sigma of the test accuracy curve's peak (describes the curve; best_sigma is chosen)",
        long_name="sigma of the test-accuracy peak",
    ),
    "rise": _v("accuracy at the peak minus at the lowest sigma", long_name="rise to the peak"),
    "fall": _v("accuracy at the peak minus at the highest sigma", long_name="fall after the peak"),
    "unimodal": _v(
        "true when the test accuracy curve rises to an interior peak and falls, within the "
        "tolerance attribute, and its range exceeds the flat attribute (the unimodal row of "
        "shape_prob) (false also where its probe task has not run: see peak_sigma, NaN "
        "there)",
        long_name="unimodal accuracy curve",
        dtype="bool",
    ),
    "unimodal_prob": _v(
        "share of bootstrap resamples of the test split in which the accuracy curve is unimodal",
        long_name="probability of a unimodal curve",
        applies=bootstrapped,
    ),
}


def compute(cell) -> dict:
    """The shape of the cell's test-accuracy curves (S, T), and under the bootstrap the share of
    resampled curves that are unimodal; reads what `accuracy` returned (`cell.values`)."""
    from ..maths.unimodal import unimodal_many, unimodality

    spec, acc = cell.spec, cell.values["accuracy"]
    tol, flat = spec.analysis.tolerance, spec.analysis.flat
    shapes = [unimodality(spec.sigmas, acc[:, t], tol, flat) for t in range(acc.shape[1])]
    out = {
        name: np.array([float(getattr(u, name)) for u in shapes])
        for name in ("peak_sigma", "rise", "fall", "unimodal")
    }
    if "accuracy_boot" in cell.values:
        curves = np.moveaxis(cell.values["accuracy_boot"], 0, -1)  # (T, B, S)
        out["unimodal_prob"] = unimodal_many(curves, tol, flat).mean(-1)
    return out


def annotate(ds, spec, context) -> None:
    if "unimodal" in ds:
        ds["unimodal"].attrs.update(tolerance=spec.analysis.tolerance, flat=spec.analysis.flat)


METRIC = Metric(
    name="unimodality",
    stage=Stage.PROBE,
    about="the shape of each accuracy curve across sigma: peak, rise, fall, unimodal, and its "
    "probability under the bootstrap",
    variables=VARIABLES,
    compute=compute,
    default=classifies,
    reads={"labels", "curves"},
    check_var="peak_sigma",
    annotate=annotate,
    order=50,
)
