"""Query stage: tidy tables of one variable (select, average, format) and the run summary.

`query` reads straight from zarr (`reprdyn.reader`), so the command line answers without importing
xarray or pandas; `summarize` reads the store as xarray (`reprdyn.store.Results`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .cube import VARIABLES
from .errors import QueryError, StoreError, did_you_mean
from .metrics.unimodal import unimodality
from .reader import Cube, CubeStore


def parse_sel(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        dim, eq, value = item.partition("=")
        if not eq or not dim.strip() or not value.strip():
            raise QueryError(
                f"--sel {item!r}: expected DIM=VALUE, for example sigma=0.5 or layer=output"
            )
        out.append((dim.strip(), value.strip()))
    return out


def _select(cube: Cube, dim: str, raw: str, notes: list[str]) -> Cube:
    """The cube at one value of `dim` (kept as a dim of length one).

    On a float coordinate the nearest grid value is taken, and `notes` says so when it is not the
    value asked for; a value beyond the grid's ends by more than one grid step is an error. Other
    coordinates must hold the value exactly.
    """
    if dim not in cube.dims:
        raise QueryError(
            f"--sel {dim}={raw}: {cube.name!r} has no dim {dim!r}; its dims are {list(cube.dims)}"
        )
    coord = cube.coords[dim]
    if coord.dtype.kind in "fiu":
        try:
            value = float(raw)
        except ValueError:
            raise QueryError(f"--sel {dim}={raw}: {dim!r} is numeric; give a number") from None
        if coord.dtype.kind == "f":
            return cube.take(dim, np.array([_nearest(coord, value, dim, raw, notes)]))
        hits = np.flatnonzero(coord == value)
        if not len(hits):
            raise QueryError(f"--sel {dim}={raw}: no such {dim}; expected one of {coord.tolist()}")
        return cube.take(dim, hits[:1])
    values = [str(v) for v in coord]
    if raw not in values:
        raise QueryError(
            f"--sel {dim}={raw}: no such {dim}; expected one of {values}"
            + did_you_mean(raw, values)
        )
    return cube.take(dim, np.array([values.index(raw)]))


def _nearest(coord: np.ndarray, value: float, dim: str, raw: str, notes: list[str]) -> int:
    """Index of the grid value nearest `value`; refuses values more than one grid step beyond
    either end."""
    lo, hi = float(coord.min()), float(coord.max())
    ordered = np.sort(coord)
    step_lo = ordered[1] - ordered[0] if len(coord) > 1 else max(abs(lo), 1e-12)
    step_hi = ordered[-1] - ordered[-2] if len(coord) > 1 else max(abs(hi), 1e-12)
    if value < lo - step_lo or value > hi + step_hi:
        raise QueryError(
            f"--sel {dim}={raw}: outside the grid, which runs from {lo:.4g} to {hi:.4g} "
            f"({len(coord)} values); give a value inside it"
        )
    i = int(np.argmin(np.abs(coord - value)))
    # 0.5 for a grid value stored as 0.49999999999999994
    if not np.isclose(coord[i], value, rtol=1e-9, atol=0):
        notes.append(f"--sel {dim}={raw}: took the nearest grid value, {dim}={float(coord[i]):.6g}")
    return i


@dataclass
class Table:
    """A tidy table: one column per dim (after `dataset`), then the value; `notes` are messages for
    stderr."""

    columns: list[str]
    rows: list[tuple]
    notes: list[str] = field(default_factory=list)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        w.writerows([[_csv_cell(v) for v in r] for r in self.rows])
        return buf.getvalue()

    def to_json(self) -> str:
        return json.dumps([dict(zip(self.columns, (_json_cell(v) for v in r))) for r in self.rows])

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)


def _csv_cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else f"{v:.6g}"
    return str(v.item() if isinstance(v, np.generic) else v)


def _json_cell(v):
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and math.isnan(v) else v


def query(
    path: str,
    var: str,
    dataset: str | None = None,
    sel: list[str] = (),
    mean: list[str] = (),
    keep_nan: bool = False,
) -> Table:
    """A tidy table of `var`: one column per remaining dim (plus `dataset`), then the value.

    Rows with no value (NaN: a probe that never reads a layer, a class with no samples) are dropped
    unless `keep_nan`; the table's notes say how many.
    """
    store = CubeStore(path)
    names = [dataset] if dataset else store.datasets
    if dataset and dataset not in store.datasets:
        raise QueryError(
            f"--dataset {dataset}: not in this store; expected one of {store.datasets}"
            + did_you_mean(dataset, store.datasets)
        )
    pairs, notes, columns = parse_sel(list(sel)), [], None
    rows: list[tuple] = []
    for name in names:
        cube = store.cube(name, _check_variable(store, name, var))
        for dim, raw in pairs:
            cube = _select(cube, dim, raw, notes)
        for dim in mean:
            if dim not in cube.dims:
                raise QueryError(
                    f"--mean {dim}: {var!r} has no dim {dim!r}; its dims are {list(cube.dims)}"
                )
            cube = cube.mean(dim)
        columns = ["dataset", *cube.dims, var]
        rows += [(name, *r) for r in cube.rows()]
    dropped = 0
    if not keep_nan:
        kept = [
            r for r in rows if not (isinstance(r[-1], (float, np.floating)) and math.isnan(r[-1]))
        ]
        dropped, rows = len(rows) - len(kept), kept
    if dropped:
        notes.append(
            f"dropped {dropped} row(s) with no value (NaN: probe x layer pairs that were never "
            "fitted, or classes with no samples); --keep-nan keeps them"
        )
    return Table(columns, rows, list(dict.fromkeys(notes)))


def _check_variable(store: CubeStore, dataset: str, var: str) -> str:
    """`var` if the store has it, else a message that says how to get it or what was meant."""
    have = store.names(dataset)
    if var in have:
        return var
    if var in VARIABLES:
        metric = VARIABLES[var].metrics[0]
        raise QueryError(
            f"{var!r} was not computed for this store (dataset {dataset!r}): add {metric!r} to the "
            f"spec's `metrics:` and run it again; this store has {', '.join(have)}"
        )
    raise QueryError(
        f"unknown variable {var!r} for dataset {dataset!r}; expected one of {', '.join(have)}"
        + did_you_mean(var, have)
    )


# --- run summary ---------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    """One probe curve in a run's summary, at the lowest label noise.

    The headline is chosen on validation data only: `best_sigma` (sigma*), the
    sigma with the highest validation accuracy, and `best_accuracy`, the test
    accuracy there, next to the soft-voting ensemble's. The test curve's own
    peak is kept as a description of its shape, never as a result.
    """

    dataset: str
    model: str  # '' for a single-model spec
    layer: str
    input: str
    probe: str
    best_sigma: float  # sigma* chosen on validation (the most common choice over seeds)
    best_sigma_agree: float  # share of seeds whose validation choice is best_sigma
    best_accuracy: float  # test accuracy at each seed's sigma*, mean over seeds
    best_accuracy_std: float
    val_accuracy: float  # validation accuracy at sigma*, mean over seeds (what the choice saw)
    ensemble_accuracy: float
    ensemble_accuracy_std: float
    csnr_at_best: float  # empirical CSNR at best_sigma
    csnr_peak_sigma: float  # where the CSNR curve peaks
    test_peak_sigma: float  # descriptive: where the mean test curve peaks
    test_peak_accuracy: float  # descriptive: the mean test curve's maximum
    unimodal: bool  # descriptive: the mean test curve rises to an interior peak and falls
    point: str = ""  # a sweep point, e.g. "n_train=64"; '' outside sweeps

    @property
    def best_sigma_label(self) -> str:
        """sigma*, with the share of seeds that chose it when they do not all agree."""
        agree = f" ({self.best_sigma_agree:.0%} of seeds)" if self.best_sigma_agree < 1 else ""
        return f"{self.best_sigma:.4g}{agree}"


def _mode(values: np.ndarray) -> tuple[float, float]:
    """The most common value (lowest on ties) and the share of entries equal to it."""
    vals, counts = np.unique(values[np.isfinite(values)], return_counts=True)
    if not len(vals):
        return float("nan"), float("nan")
    i = int(np.argmax(counts))
    return float(vals[i]), float(counts[i] / len(values))


def summarize(path: str) -> list[SummaryRow]:
    """Per dataset, model, layer, input and probe: the validation-chosen sigma and its test
    accuracy, the ensemble, and the shape of the test curve, at the lowest label noise (spread over
    seeds)."""
    return _summary_rows(path, "accuracy", _accuracy_rows)


def _accuracy_rows(name: str, ds) -> list[SummaryRow]:
    low = {
        v: ds[v].isel(label_noise=0).load()
        for v in ("accuracy", "val_accuracy", "best_sigma", "best_accuracy", "ensemble_accuracy")
    }
    rows = []
    for at in _cells(ds):
        cell = {v: da.sel(**at) for v, da in low.items()}
        curve = cell["accuracy"].mean("seed")
        if not np.isfinite(curve.values).any():
            continue  # this probe does not read this layer
        best, agree = _mode(cell["best_sigma"].values)
        u = unimodality(curve.sigma.values, curve.values)
        c_best, c_peak = float("nan"), float("nan")
        if "csnr_overall" in ds:
            snr = ds["csnr_overall"].sel(model=at["model"], layer=at["layer"], input=at["input"])
            snr = snr.load()
            c_best = float(snr.sel(sigma=best)) if np.isfinite(best) else float("nan")
            c_peak = unimodality(snr.sigma.values, snr.values).peak_sigma
        b, e = cell["best_accuracy"], cell["ensemble_accuracy"]
        rows.append(
            SummaryRow(
                name,
                *(str(at[k]) for k in ("model", "layer", "input", "probe")),
                best,
                agree,
                float(b.mean("seed")),
                float(b.std("seed")),
                float(cell["val_accuracy"].max("sigma").mean("seed")),
                float(e.mean("seed")),
                float(e.std("seed")),
                c_best,
                c_peak,
                u.peak_sigma,
                u.peak_value,
                u.unimodal,
            )
        )
    return rows


@dataclass(frozen=True)
class SegmentationRow:
    """One segmentation curve: a dense layer set, input and segmentation probe at the lowest label
    noise; sigma* is chosen on validation mIoU, and mIoU there is test mIoU."""

    dataset: str
    model: str
    layer: str  # a dense set
    input: str
    probe: str
    best_sigma: float
    best_sigma_agree: float
    best_miou: float  # test mIoU at each seed's sigma*, mean over seeds
    best_miou_std: float
    test_peak_sigma: float  # descriptive: where the mean test curve peaks
    test_peak_miou: float
    unimodal: bool  # descriptive
    point: str = ""

    @property
    def best_sigma_label(self) -> str:
        agree = f" ({self.best_sigma_agree:.0%} of seeds)" if self.best_sigma_agree < 1 else ""
        return f"{self.best_sigma:.4g}{agree}"


def summarize_segmentation(path: str) -> list[SegmentationRow]:
    """Per dataset, model, dense set, input and segmentation probe: sigma* by validation mIoU, its
    test mIoU, and the shape of the test mIoU curve, at the lowest label noise."""
    return _summary_rows(path, "miou", _segmentation_rows)


def _segmentation_rows(name: str, ds) -> list[SegmentationRow]:
    test, val = (ds[v].isel(label_noise=0).load() for v in ("miou", "val_miou"))
    rows = []
    for at in _cells(ds):
        curve, chosen = test.sel(**at), val.sel(**at)  # (sigma, seed)
        if not np.isfinite(curve.values).any():
            continue
        pick = np.nan_to_num(chosen.values, nan=-1).argmax(0)  # per seed
        best, agree = _mode(curve.sigma.values[pick])
        at_best = curve.values[pick, np.arange(len(pick))]
        u = unimodality(curve.sigma.values, curve.mean("seed").values)
        rows.append(
            SegmentationRow(
                name,
                *(str(at[k]) for k in ("model", "layer", "input", "probe")),
                best,
                agree,
                float(at_best.mean()),
                float(at_best.std()),
                u.peak_sigma,
                u.peak_value,
                u.unimodal,
            )
        )
    return rows


def _summary_rows(path: str, var: str, build) -> list:
    """`build(dataset, cube)` over every dataset cube holding `var` (a `model` dim always
    present); a sweep store's points one after another, each row labelled with its point."""
    from dataclasses import replace

    from .store import Results, point_label

    res = Results(path)
    if res.sweep_dims:
        return [
            replace(r, point=point_label(v))
            for v, sub in res.points
            for r in _summary_rows(sub.path, var, build)
        ]
    rows = []
    for name in res.datasets:
        ds = res[name]
        if var in ds:
            rows += build(name, ds.expand_dims(model=[""]) if "model" not in ds.dims else ds)
    return rows


def _cells(ds) -> list[dict]:
    """Every (model, layer, input, probe) of a cube, in that nesting order."""
    return [
        dict(model=m, layer=x, input=i, probe=p)
        for m in ds.model.values
        for x in ds.layer.values
        for i in ds.input.values
        for p in ds.probe.values
    ]


def summary_json(rows: list) -> str:
    return json.dumps(
        [
            {
                k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in asdict(r).items()
            }
            for r in rows
        ]
    )


__all__ = [
    "query",
    "parse_sel",
    "QueryError",
    "StoreError",
    "summarize",
    "summarize_segmentation",
    "SummaryRow",
    "SegmentationRow",
    "Table",
]
