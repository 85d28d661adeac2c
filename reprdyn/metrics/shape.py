"""Metric `shape`: the class of each test-accuracy curve across sigma — unimodal, decreasing,
increasing, flat or other — with its probability over the paired bootstrap, and on a sweep the point
where the shape turns from unimodal to decreasing, with an interval (docs/theory.md §6, §8).

The paper's NeurIPS 2025 version reads the curve's shape as a test of generalisation: unimodal
while the model generalises, decreasing as it memorises (its appendix A.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..maths.unimodal import SHAPES
from .accuracy import classifies
from .base import PROBE_DIMS, Figure, Metric, Stage, Table, Variable

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr

VARIABLES = {
    "curve_shape": Variable(
        PROBE_DIMS,
        "class of the test-accuracy curve across sigma, an index into the shape coordinate "
        "(flag_values, flag_meanings), under analysis.tolerance and analysis.flat",
        long_name="shape of the test-accuracy curve",
    ),
    "shape_prob": Variable(
        (*PROBE_DIMS, "shape"),
        "share of paired bootstrap resamples of the test split in which the curve has each shape "
        "(without a bootstrap: 1 at the curve's own shape)",
        long_name="probability of each curve shape",
    ),
}
COORDS = {"shape": (SHAPES, "class of a curve's shape across sigma")}


def compute(cell) -> dict:
    """The class of each of the cell's test-accuracy curves (S, T), and the share of resampled
    curves (S, T, B) in each class; reads what `accuracy` returned (`cell.values`)."""
    from ..maths.unimodal import shape_codes

    spec, acc = cell.spec, cell.values["accuracy"]
    tol, flat = spec.analysis.tolerance, spec.analysis.flat
    codes = shape_codes(acc.T, tol, flat)  # (T,)
    if "accuracy_boot" in cell.values:
        resampled = shape_codes(np.moveaxis(cell.values["accuracy_boot"], 0, -1), tol, flat)
        prob = (resampled[..., None] == np.arange(len(SHAPES))).mean(1)  # (T, shape)
    else:
        prob = (codes[:, None] == np.arange(len(SHAPES))).astype(float)  # (T, shape)
    prob[codes < 0] = np.nan
    return {"curve_shape": np.where(codes < 0, np.nan, codes), "shape_prob": prob}


def annotate(ds, spec, context) -> None:
    if "curve_shape" in ds:
        ds["curve_shape"].attrs.update(
            flag_values=list(range(len(SHAPES))),
            flag_meanings=" ".join(SHAPES),
            tolerance=spec.analysis.tolerance,
            flat=spec.analysis.flat,
        )


# --- the summary's tables ----------------------------------------------------------


@dataclass(frozen=True)
class ShapeRow:
    """One curve's shape at the lowest label noise: the most probable class over resamples,
    replicates and seeds, and the probability of each."""

    dataset: str
    model: str
    layer: str
    input: str
    probe: str
    shape: str
    prob: float  # of `shape`
    probs: tuple[float, ...]  # of every class, in SHAPES order
    replicates: int
    seeds: int
    point: str = ""
    label_noise: float = float("nan")


@dataclass(frozen=True)
class ChangeRow:
    """Where a curve's shape changes between unimodal and decreasing along one swept parameter,
    with the central range of that boundary over the hierarchical bootstrap."""

    dataset: str
    model: str
    layer: str
    input: str
    probe: str
    along: str  # the swept parameter
    shapes: str  # each point's shape and its probability
    change: str  # "32→128", or "none in the range"
    interval: str  # the boundary's central range at the confidence, over draws with a change
    share: float  # share of draws with a change in the same direction
    replicates: int
    seeds: int
    point: str = ""  # the other swept parameters' values
    label_noise: float = float("nan")


def _probs(low, at: dict) -> np.ndarray:
    """The mean shape_prob over replicates and seeds of one cell: (shape,)."""
    p = low["shape_prob"].sel(**at).transpose(..., "shape").values
    p = p.reshape(-1, len(SHAPES))
    p = p[np.isfinite(p).all(-1)]
    return p.mean(0) if len(p) else np.full(len(SHAPES), np.nan)


def _shape_rows(name: str, ds) -> list[ShapeRow]:
    from ..read.summary.build import reading

    r = reading(ds)
    rows = []
    for at, codes in r.cells("curve_shape", "replicate", "seed"):
        p = _probs(r.low, at)
        if not np.isfinite(p).all():
            continue
        i = int(np.argmax(p))
        reps = int(np.isfinite(codes.values).any(1).sum())
        cell = (str(at[k]) for k in ("model", "layer", "input", "probe"))
        rows.append(
            ShapeRow(
                name,
                *cell,
                SHAPES[i],
                float(p[i]),
                tuple(float(x) for x in p),
                reps,
                int(codes.sizes["seed"]),
                label_noise=r.level,
            )  # fmt: skip
        )
    return rows


def boundary(codes: np.ndarray, first: int, second: int) -> np.ndarray:
    """Where sequences of shape codes (..., J) along a sweep step from `first` to `second`: the
    k in 1..J-1 (between points k-1 and k) that most points agree with — `first` before it,
    `second` from it on (the lowest k on ties) — or -1 where no `first` comes before a `second`."""
    c = np.asarray(codes)
    J = c.shape[-1]
    if J < 2:
        return np.full(c.shape[:-1], -1)
    a, b = (c == first).astype(int), (c == second).astype(int)
    before = np.cumsum(a, -1)[..., :-1]  # (..., J-1): `first` among points < k
    after = np.cumsum(b[..., ::-1], -1)[..., ::-1][..., 1:]  # `second` among points >= k
    k = np.argmax(before + after, -1) + 1
    seen = np.maximum.accumulate(a, -1)[..., :-1] * b[..., 1:]  # a `first` before a `second`
    return np.where(seen.any(-1), k, -1)


def _change_rows(name: str, ds, sweep: list[str]) -> list[ChangeRow]:
    from ..maths.uncertainty import central_range, combined_draws
    from ..maths.unimodal import DECREASING, UNIMODAL, shape_codes
    from ..read.summary.build import cell_grid, combos, reading
    from ..store import point_label

    r = reading(ds)
    low, rows = r.low, []
    boot = "accuracy_boot" in low
    for along in sweep:
        others = [d for d in sweep if d != along]
        values = low[along].values
        for fixed in combos(low, others):
            for at in cell_grid(low):
                acc = low["accuracy"].sel(**at, **fixed)
                mean = acc.mean(("replicate", "seed")).transpose(along, "sigma").values  # (J, S)
                if not np.isfinite(mean).any():
                    continue
                codes = shape_codes(mean, r.tolerance, r.flat)  # (J,)
                probs = [_probs(low.sel({along: v, **fixed}), at) for v in values]
                shapes = " · ".join(
                    f"{v:g}: {SHAPES[int(np.argmax(p))]} ({np.max(p):.2f})"
                    if np.isfinite(p).all() else f"{v:g}: –"
                    for v, p in zip(values, probs)
                )  # fmt: skip
                # the direction the point estimates step in (unimodal first, or decreasing first)
                ways = [(UNIMODAL, DECREASING), (DECREASING, UNIMODAL)]
                found = [(w, int(boundary(codes, *w))) for w in ways]
                found = [(w, k) for w, k in found if k > 0]
                change, span, share = "none in the range", "–", float("nan")
                labels = [f"{values[k - 1]:g}→{values[k]:g}" for k in range(1, len(values))]
                if found:
                    way, k = found[0]
                    change = labels[k - 1]
                if boot:
                    draws = low["accuracy_boot"].sel(**at, **fixed)
                    draws = draws.transpose(along, "sigma", "replicate", "seed", "boot").values
                    curves = np.moveaxis(combined_draws(draws, r.seed), -1, 1)  # (J, B, S)
                    drawn = shape_codes(curves, r.tolerance, r.flat).T  # (B, J)
                    ks = boundary(drawn, *(found[0][0] if found else ways[0]))  # (B,)
                    either = ks > 0 if found else (ks > 0) | (boundary(drawn, *ways[1]) > 0)
                    share = float(either.mean())
                    if found and (ks > 0).any():
                        freq = np.bincount(ks[ks > 0], minlength=len(values))[1:]
                        lo, hi = central_range(freq, np.arange(1, len(values)), r.confidence)
                        span = labels[int(lo) - 1] + (
                            f" … {labels[int(hi) - 1]}" if hi != lo else ""
                        )
                cell = (str(at[k]) for k in ("model", "layer", "input", "probe"))
                rows.append(
                    ChangeRow(
                        name,
                        *cell,
                        along,
                        shapes,
                        change,
                        span,
                        share,
                        int(acc.sizes["replicate"]),
                        int(acc.sizes["seed"]),
                        point=point_label(fixed) if fixed else "",
                        label_noise=r.level,
                    )  # fmt: skip
                )
    return rows


def _p(v: float) -> str:
    return f"{v:.2f}" if math.isfinite(v) else "–"


SHAPE_COLUMNS = (
    ("shape (p)", lambda r: f"{r.shape} ({r.prob:.2f})"),
    ("p: " + " / ".join(SHAPES), lambda r: " / ".join(_p(x) for x in r.probs)),
)
CHANGE_COLUMNS = (
    ("along", lambda r: r.along),
    ("shape at each point (p)", lambda r: r.shapes),
    ("unimodal ↔ decreasing", lambda r: r.change),
    ("its range", lambda r: r.interval),
    ("draws with a change", lambda r: _p(r.share)),
)


def _tables() -> tuple:
    return (
        Table(
            "shapes",
            "shape_prob",
            _shape_rows,
            SHAPE_COLUMNS,
            title="shape of each test-accuracy curve across σ: the most probable class over test "
            "resamples, replicates and seeds, and the probability of each",
            heading="Shape of each accuracy curve",
            note="Unimodal while the model generalises, decreasing as it memorises (the paper's "
            "appendix A.2); flat: a range within analysis.flat.",
        ),
        Table(
            "shape_change",
            "shape_prob",
            _change_rows,
            CHANGE_COLUMNS,
            title="where the curve's shape changes between unimodal and decreasing along the "
            "sweep: the boundary of the mean curve, and its range over the hierarchical bootstrap",
            heading="Where the shape changes along the sweep",
            note="The boundary that most sweep points agree with, from the mean curve; its range "
            "is the central interval over bootstrap draws that change in the same direction.",
            sweep=True,
        ),
    )


# --- the figure ----------------------------------------------------------------------

COLOURS = {"unimodal": "C2", "decreasing": "C3", "increasing": "C0", "flat": "0.6", "other": "C4"}


def figure(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    import matplotlib.colors as mcolors
    from matplotlib.patches import Patch

    from ..plot import style
    from ..read.summary.build import combos

    prob = style.with_model(style.lowest_of(ds, "shape_prob", "shape")).load()
    p = prob.mean(("replicate", "seed"), skipna=True)
    points = combos(p, sweep)
    panels = list(style.series(p.isel({d: 0 for d in sweep}), ("layer", "shape")))
    fig, axes = style.panels(len(panels), cols=2, panel=(max(3.2, 1.2 + 0.7 * len(points)), 2.4))
    for ax, (label, first) in zip(axes, panels):
        fixed = [d for d in p.dims if d not in (*sweep, "layer", "shape")]
        at = {d: first[d].item() for d in fixed}
        cell = p.sel(at)
        layers = [str(x) for x in cell.layer.values]
        rgba = np.ones((len(layers), len(points), 4))
        for j, pt in enumerate(points):
            q = cell.sel(pt).transpose("layer", "shape").values  # (L, shape)
            for i in range(len(layers)):
                if not np.isfinite(q[i]).all():
                    continue
                k = int(np.argmax(q[i]))
                colour = mcolors.to_rgba(COLOURS[SHAPES[k]])
                rgba[i, j] = (*colour[:3], 0.25 + 0.75 * q[i, k])  # paler: less certain
                ax.text(j, i, f"{q[i, k]:.2f}", ha="center", va="center", fontsize=7)
        ax.imshow(rgba, aspect="auto", origin="lower")
        ax.set_yticks(range(len(layers)), layers)
        names = [", ".join(f"{v:g}" for v in pt.values()) for pt in points] or [""]
        ax.set_xticks(range(len(names)), names)
        ax.set_xlabel(", ".join(sweep) if sweep else "")
        ax.grid(False)
        ax.set_title(f"{dataset}: " + ", ".join(str(v) for v in at.values() if str(v)))
    handles = [Patch(color=c, label=s) for s, c in COLOURS.items()]
    fig.legend(handles=handles, loc="outside right center", fontsize=7, frameon=False)
    style.caption(
        fig,
        "Colour: the most probable shape of the test-accuracy curve across σ; number and depth: "
        "its probability over test resamples, replicates and seeds.",
    )
    return fig


METRIC = Metric(
    name="shape",
    stage=Stage.PROBE,
    about="the class of each accuracy curve across sigma (unimodal, decreasing, increasing, flat, "
    "other) with its probability; on a sweep, where it turns from unimodal to decreasing",
    variables=VARIABLES,
    compute=compute,
    default=classifies,
    reads={"labels", "curves"},
    brings=("unimodality",),
    check_var="curve_shape",
    annotate=annotate,
    tables=_tables,
    figures=(
        Figure(
            "shape",
            "the most probable shape of each accuracy curve and its probability, over layer and "
            "sweep point",
            figure,
            at_lowest_noise=True,
        ),
    ),
    coords=COORDS,
    order=52,
)
