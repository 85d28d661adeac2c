"""The metrics a spec can ask for, each declared once with what it needs.

The spec's `metrics:` vocabulary, its defaults and its rules (a metric that reads accuracy curves
needs `accuracy`; one that reads class labels needs labelled data) all derive from this table. The
variables each metric fills are declared by the stage that computes them (`reprdyn.stages`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    name: str
    default: bool = False  # asked for when a spec names no metrics (where it applies)
    pooled: bool = False  # reads pooled features (the `features` stage runs for it)
    labels: bool = False  # reads class labels (a dataset with masks alone has none)
    curves: bool = False  # reads the probes' accuracy curves (needs `accuracy`)
    molrg: bool = False  # defined for molrg datasets only
    masks: bool = False  # reads per-pixel masks (segmentation)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", default=True, pooled=True, labels=True),
        Metric("class_accuracy", default=True, pooled=True, labels=True),
        Metric("csnr", default=True, pooled=True, labels=True),
        Metric("csnr_theory", default=True, labels=True, molrg=True),
        Metric("unimodality", default=True, labels=True, curves=True),
        Metric("posterior_mse", pooled=True),
        Metric("sw_distance", pooled=True, labels=True, curves=True),
        Metric("cka", pooled=True),
        Metric("generalization"),
        Metric("miou", masks=True),
    )
}
MetricName = Literal[tuple(METRICS)]  # type: ignore[valid-type]
ALL_METRICS = tuple(METRICS)
DEFAULT_METRICS = tuple(n for n, m in METRICS.items() if m.default)
NEEDS_PROBES = tuple(n for n, m in METRICS.items() if m.curves)
LABEL_METRICS = tuple(n for n, m in METRICS.items() if m.labels)
POOLED_METRICS = tuple(n for n, m in METRICS.items() if m.pooled)
CLASSIFICATION = ("accuracy", "class_accuracy")  # what the probe stage fits classifiers for
