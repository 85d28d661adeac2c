"""Metric `class_accuracy`: test accuracy per class at every sigma, from the same probes and test
logits as `accuracy` (which it brings with it)."""

from __future__ import annotations

import numpy as np

from .accuracy import classifies
from .base import PROBE_DIMS, Metric, Stage, Variable

VARIABLES = {
    "class_accuracy": Variable(
        ("sigma", *PROBE_DIMS, "class"),
        "per-class test accuracy",
        long_name="test accuracy per class",
    )
}


def compute(cell) -> dict:
    """Per-class test accuracy (S, T, K), from the cell's test logits (S, T, m, K)."""
    from ..probes.ensemble import accuracy

    S, T = cell.logits.shape[:2]
    out = np.empty((S, T, cell.K))
    for s in range(S):
        for t in range(T):
            out[s, t] = accuracy(cell.logits[s, t].argmax(-1), cell.y_test, cell.K)[1]
    return {"class_accuracy": out}


METRIC = Metric(
    name="class_accuracy",
    stage=Stage.PROBE,
    about="test accuracy per class of the probe at every sigma",
    variables=VARIABLES,
    compute=compute,
    default=classifies,
    reads={"pooled", "labels"},
    brings=("accuracy",),
    order=20,
)
