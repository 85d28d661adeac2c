"""Metric `aggregation`: test accuracy of the joint probes (`aggregate`, `concat`), which read
every (layer, sigma) cell at once, with the probes' paired bootstrap; the learned mixing weights
as a cube over sigma x layer; and Table 1 with a third column: the joint probe beside the best
single cell and the soft-voting ensemble (docs/theory.md §10). The `accuracy` metric brings it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .base import Figure, Metric, Stage, Table, Variable, with_uncertainty

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr

    from ..read.summary.rows import Interval

JOINT_DIMS = ("label_noise", "seed", "probe", "input")


def has_joint_probe(spec) -> bool:
    return any(p.joint for p in spec.probes)


VARIABLES = {
    **with_uncertainty(
        "joint_accuracy",
        Variable(
            JOINT_DIMS,
            "test accuracy of a joint probe, fitted on every (layer, sigma) cell it reads at once",
            long_name="joint probe test accuracy",
            applies=has_joint_probe,
        ),
    ),
    "joint_val_accuracy": Variable(
        JOINT_DIMS,
        "validation accuracy of a joint probe",
        long_name="joint probe validation accuracy",
        applies=has_joint_probe,
    ),
    "mixing_weights": Variable(
        ("sigma", "layer", *JOINT_DIMS),
        "the aggregate probe's learned softmax weight of each (layer, sigma) cell (they sum to 1 "
        "over the cells it reads; NaN for other probes and layers)",
        long_name="mixing weight",
        applies=has_joint_probe,
    ),
}


def compute(cell) -> dict:
    """Validation and test accuracy of each label set (T,), under the bootstrap their test
    resamples and interval, and the mixing weights (S, L, T) where the probe learns them."""
    from ..maths.uncertainty import interval, resampled_mean
    from ..probes.protocol import bootstrap_counts

    spec = cell.spec
    hits = cell.logits.argmax(-1) == cell.y_test  # (T, m)
    out = {"joint_accuracy": hits.mean(-1), "joint_val_accuracy": cell.val_correct.mean(-1)}
    if spec.bootstrap:
        counts = bootstrap_counts(spec, cell.dataset, "test", hits.shape[-1])  # the probes' draws
        out["joint_accuracy_boot"] = boot = resampled_mean(hits, counts)  # (T, B)
        out["joint_accuracy_ci"] = interval(boot, spec.analysis.confidence)
    S, T = len(spec.sigmas), hits.shape[0]
    mixing = getattr(cell.probe, "mixing_", None)  # (T, L, S)
    mix = np.full((S, len(cell.layers), T), np.nan)
    if mixing is not None:
        mix = np.transpose(mixing, (2, 1, 0))
    out["mixing_weights"] = mix
    return out


# --- Table 1 with a third column --------------------------------------------------------


@dataclass(frozen=True)
class JointRow:
    """A joint probe at one label-noise level, beside the best single (layer, sigma) cell of the
    per-sigma probes (chosen on validation) and that cell's soft-voting ensemble."""

    dataset: str
    model: str
    layer: str  # the best single cell's layer and probe, "layer / probe"
    input: str
    probe: str  # the joint probe
    label_noise: float
    best_sigma: float
    best_accuracy: Interval
    ensemble_accuracy: Interval
    joint_accuracy: Interval
    over_best: Interval  # joint - best single cell, paired
    over_ensemble: Interval  # joint - ensemble, paired
    replicates: int
    seeds: int
    point: str = ""


def _joint_rows(name: str, ds) -> list[JointRow]:
    from ..read.summary.build import reading

    r = reading(ds)
    rows = []
    for level in ds.label_noise.values:
        for model in ds.model.values:
            for inp in ds.input.values:
                here = ds.sel(label_noise=level, model=model, input=inp)
                cell = _best_cell(here)  # None: no per-sigma probe to compare with
                for probe in ds.probe.values:
                    joint = here["joint_accuracy"].sel(probe=probe)  # (replicate, seed)
                    if np.isfinite(joint.values).any():
                        at = dict(dataset=name, model=str(model), input=str(inp), probe=str(probe))
                        rows.append(_joint_row(r, here, joint, cell, float(level), at))
    return rows


def _joint_row(r, here, joint, cell, level: float, at: dict) -> JointRow:
    """One joint probe against the best single cell and its ensemble, with paired intervals:
    the same hierarchical picks of replicates and seeds, the same test resamples."""
    from ..maths.uncertainty import combined_draws, interval
    from ..read.summary.rows import Interval

    names = ("best_accuracy", "ensemble_accuracy", "joint_accuracy")
    nan = np.full(joint.shape, np.nan)
    single = [here[v].sel(layer=cell[0], probe=cell[1]) if cell else nan for v in names[:2]]
    values = [_mean(v) for v in (*single, joint)]
    cis = [(np.nan, np.nan)] * 5
    if "joint_accuracy_boot" in here:
        boots = [here["joint_accuracy_boot"].sel(probe=at["probe"])]
        if cell and "best_accuracy_boot" in here:
            boots = [here[f"{v}_boot"].sel(layer=cell[0], probe=cell[1]) for v in names[:2]] + boots
        d = combined_draws(
            np.stack([b.transpose("replicate", "seed", "boot").values for b in boots]), r.seed
        )  # the same picks of replicates and seeds for every row of d
        if len(d) == 3:
            cis = [interval(x, r.confidence) for x in (*d, d[2] - d[0], d[2] - d[1])]
        else:
            cis[2] = interval(d[0], r.confidence)
    best_sigma = float("nan")
    if cell:
        best_sigma = float(np.nanmedian(here["best_sigma"].sel(layer=cell[0], probe=cell[1])))
    return JointRow(
        at["dataset"],
        at["model"],
        f"{cell[0]} / {cell[1]}" if cell else "–",
        at["input"],
        at["probe"],
        level,
        best_sigma,
        *(Interval(v, *c) for v, c in zip(values, cis[:3])),
        Interval(values[2] - values[0], *cis[3]),
        Interval(values[2] - values[1], *cis[4]),
        int(joint.sizes["replicate"]),
        int(joint.sizes["seed"]),
    )


def _best_cell(ds) -> tuple[str, str] | None:
    """The (layer, probe) of the per-sigma probes whose validation accuracy at sigma* is highest,
    mean over replicates and seeds (the first on ties)."""
    if "val_accuracy" not in ds:
        return None
    val = ds["val_accuracy"].max("sigma").mean(("replicate", "seed"))  # (layer, probe)
    v = val.transpose("layer", "probe").values
    if not np.isfinite(v).any():
        return None
    i, j = np.unravel_index(int(np.nanargmax(v)), v.shape)
    return str(val.layer.values[i]), str(val.probe.values[j])


def _mean(v) -> float:
    """The mean of the finite values (NaN where there are none)."""
    v = np.asarray(v, float)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")


def _at_sigma(r: JointRow) -> str:
    if not math.isfinite(r.best_sigma):
        return "–"
    return f"{r.best_accuracy} at σ={r.best_sigma:.3g}"


def _sign(x: Interval) -> str:
    if not math.isfinite(x.value):
        return ""
    if not math.isfinite(x.low):
        return "n/a"
    return "> 0" if x.low > 0 else "< 0" if x.high < 0 else "within noise"


JOINT_COLUMNS = (
    ("best single cell", lambda r: _at_sigma(r)),
    ("ensemble", lambda r: str(r.ensemble_accuracy)),
    ("joint probe", lambda r: str(r.joint_accuracy)),
    ("joint − best", lambda r: f"{r.over_best.signed()} {_sign(r.over_best)}"),
    ("joint − ensemble", lambda r: f"{r.over_ensemble.signed()} {_sign(r.over_ensemble)}"),
)


def _tables() -> tuple:
    return (
        Table(
            "joint",
            "joint_accuracy",
            _joint_rows,
            JOINT_COLUMNS,
            title="Table 1 with a third column: a probe over every layer and σ at once beside the "
            "best single cell (layer / probe, chosen on validation) and its ensemble",
            layer="best cell",
            heading="Joint probes beside the best single cell and the ensemble",
            note="Test accuracy with paired intervals; '> 0': the joint probe is better at the "
            "confidence.",
        ),
    )


# --- the figure ----------------------------------------------------------------------


def figure(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    from ..plot import style

    w = style.lowest_of(ds, "mixing_weights", "mixing")
    w = w.mean([d for d in ("replicate", "seed") if d in w.dims], skipna=True)
    maps = [(label, m) for label, m in style.series(w, ("sigma", "layer")) if np.isfinite(m).any()]
    if not maps:
        raise style.FigureError(
            "figure 'mixing' needs an aggregate probe's mixing weights; add a probe of kind "
            "aggregate to the spec"
        )
    fig, axes = style.panels(len(maps), cols=2)
    for ax, (label, m) in zip(axes, maps):
        m = m.transpose("layer", "sigma")
        keep = np.isfinite(m.values).any(1)
        m = m.isel(layer=np.flatnonzero(keep))
        im = ax.imshow(m.values, aspect="auto", origin="lower", cmap="viridis", vmin=0)
        ax.set_yticks(range(m.sizes["layer"]), [str(x) for x in m.layer.values])
        ax.set_xticks(range(m.sizes["sigma"]), [f"{s:.2g}" for s in m.sigma.values], rotation=90)
        ax.set_xlabel("σ")
        ax.grid(False)
        ax.set_title(f"{dataset}: {label}")
        fig.colorbar(im, ax=ax, shrink=0.8, label="mixing weight")
    style.caption(
        fig,
        "The aggregate probe's learned softmax weight of each (layer, σ) cell, mean over "
        "replicates and seeds; the weights of one fit sum to 1 (uniform: 1 / the number of cells).",
    )
    return fig


METRIC = Metric(
    name="aggregation",
    stage=Stage.JOINT,
    about="test accuracy of the joint probes over every layer and sigma (aggregate, concat) with "
    "paired intervals, and the aggregate probe's mixing weights over sigma x layer",
    variables=VARIABLES,
    compute=compute,
    reads={"pooled", "labels"},
    check_var="joint_val_accuracy",
    tables=_tables,
    figures=(
        Figure(
            "mixing",
            "the aggregate probe's learned mixing weights, a heat map over sigma x layer",
            figure,
            at_lowest_noise=True,
        ),
    ),
    order=15,
)
