"""Query stage: tidy tables from a store (select, average, format) and the run summary."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .errors import QueryError, StoreError
from .metrics.unimodal import unimodality
from .store import Results


def parse_sel(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        dim, eq, value = item.partition("=")
        if not eq or not dim.strip() or not value.strip():
            raise QueryError(f"--sel {item!r}: expected DIM=VALUE, for example sigma=0.5 or layer=output")
        out.append((dim.strip(), value.strip()))
    return out


def _select(da: xr.DataArray, dim: str, raw: str) -> xr.DataArray:
    if dim not in da.dims:
        raise QueryError(f"--sel {dim}={raw}: {da.name!r} has no dim {dim!r}; its dims are {list(da.dims)}")
    coord = da[dim]
    if coord.dtype.kind in "fiu":
        try:
            value = float(raw)
        except ValueError:
            raise QueryError(f"--sel {dim}={raw}: {dim!r} is numeric; give a number") from None
        if coord.dtype.kind == "f":  # nearest grid value on float coords
            return da.sel({dim: [value]}, method="nearest")
        if value not in coord.values:
            raise QueryError(f"--sel {dim}={raw}: no such {dim}; expected one of {coord.values.tolist()}")
        return da.sel({dim: [int(value)]})
    values = [str(v) for v in coord.values]
    if raw not in values:
        raise QueryError(f"--sel {dim}={raw}: no such {dim}; expected one of {values}")
    return da.sel({dim: [raw]})


def query(path: str, var: str, dataset: str | None = None, sel: list[str] = (), mean: list[str] = ()) -> pd.DataFrame:
    """A tidy table of `var`: one column per remaining dim (plus `dataset`), then the value."""
    res = Results(path)
    names = [dataset] if dataset else res.datasets
    if dataset and dataset not in res.datasets:
        raise QueryError(f"--dataset {dataset}: not in this store; expected one of {res.datasets}")
    frames = []
    for name in names:
        ds = res[name]
        if var not in ds.data_vars:
            raise QueryError(f"unknown variable {var!r} for dataset {name!r}; expected one of {sorted(ds.data_vars)}")
        da = ds[var]
        for dim, raw in parse_sel(list(sel)):
            da = _select(da, dim, raw)
        for dim in mean:
            if dim not in da.dims:
                raise QueryError(f"--mean {dim}: {var!r} has no dim {dim!r}; its dims are {list(da.dims)}")
            da = da.mean(dim)
        frames.append(_frame(da.load(), var).assign(dataset=name))
    df = pd.concat(frames, ignore_index=True)
    return df[["dataset", *[c for c in df.columns if c not in ("dataset", var)], var]]


def _frame(da: xr.DataArray, var: str) -> pd.DataFrame:
    da = da.drop_vars([c for c in da.coords if c not in da.dims])
    if da.ndim == 0:
        return pd.DataFrame({var: [da.item()]})
    return da.to_dataframe(name=var).reset_index()


def to_csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format="%.6g")


def to_json(df: pd.DataFrame) -> str:
    rows = df.to_dict(orient="records")
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else _plain(v)) for k, v in r.items()} for r in rows]
    return json.dumps(clean, indent=None)


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


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
    """Per dataset, model, layer, input and probe: the validation-chosen sigma and its test accuracy,
    the ensemble, and the shape of the test curve, at the lowest label noise (spread over seeds)."""
    res, rows = Results(path), []
    if res.sweep_dims:
        from dataclasses import replace

        from .store import point_label
        return [replace(r, point=point_label(v)) for v, sub in res.points for r in summarize(sub.path)]
    for name in res.datasets:
        ds = res[name]
        if "accuracy" not in ds:
            continue
        if "model" not in ds.dims:
            ds = ds.expand_dims(model=[""])
        low = {v: ds[v].isel(label_noise=0).load() for v in ("accuracy", "val_accuracy", "best_sigma",
                                                             "best_accuracy", "ensemble_accuracy")}
        for model in ds.model.values:
            for layer in ds.layer.values:
                for inp in ds.input.values:
                    for probe in ds.probe.values:
                        at = dict(model=model, layer=layer, input=inp)
                        cell = {v: da.sel(**at, probe=probe) for v, da in low.items()}
                        curve = cell["accuracy"].mean("seed")
                        if not np.isfinite(curve.values).any():
                            continue  # this probe does not read this layer
                        best, agree = _mode(cell["best_sigma"].values)
                        u = unimodality(curve.sigma.values, curve.values)
                        c_best, c_peak = float("nan"), float("nan")
                        if "csnr_overall" in ds:
                            snr = ds["csnr_overall"].sel(**at).load()
                            c_best = float(snr.sel(sigma=best)) if np.isfinite(best) else float("nan")
                            c_peak = unimodality(snr.sigma.values, snr.values).peak_sigma
                        b, e = cell["best_accuracy"], cell["ensemble_accuracy"]
                        rows.append(SummaryRow(
                            name, str(model), str(layer), str(inp), str(probe), best, agree,
                            float(b.mean("seed")), float(b.std("seed")),
                            float(cell["val_accuracy"].max("sigma").mean("seed")),
                            float(e.mean("seed")), float(e.std("seed")), c_best, c_peak,
                            u.peak_sigma, u.peak_value, u.unimodal))
    return rows


def summary_json(rows: list[SummaryRow]) -> str:
    return json.dumps([{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()}
                       for r in rows])


__all__ = ["query", "parse_sel", "QueryError", "StoreError", "summarize", "SummaryRow", "to_csv", "to_json"]
