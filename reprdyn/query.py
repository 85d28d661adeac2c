"""Query stage: tidy tables from a store (select, average, format) and the run summary."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .metrics import unimodality
from .store import Results, StoreError


class QueryError(ValueError):
    """A query names a variable, dim or value the store does not have."""


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
    dataset: str
    model: str  # '' for a single-model spec
    layer: str
    input: str
    probe: str
    peak_sigma: float
    peak_accuracy: float  # mean over seeds
    peak_accuracy_std: float  # std over seeds at the peak sigma
    csnr_at_peak: float
    csnr_peak_sigma: float
    unimodal: bool
    ensemble_accuracy: float
    ensemble_accuracy_std: float
    point: str = ""  # a sweep point, e.g. "n_train=64"; '' outside sweeps


def summarize(path: str) -> list[SummaryRow]:
    """Per dataset, model, layer, input and probe: the accuracy curve's peak and shape.

    The curve is the mean over seeds at the lowest label-noise level; the
    spread over seeds is reported beside the peak and the ensemble.
    """
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
        acc_all = ds["accuracy"].isel(label_noise=0).load()
        acc, acc_sd = acc_all.mean("seed"), acc_all.std("seed")
        ens_all = ds["ensemble_accuracy"].isel(label_noise=0).load()
        ens, ens_sd = ens_all.mean("seed"), ens_all.std("seed")
        for model in acc.model.values:
            for layer in acc.layer.values:
                for inp in acc.input.values:
                    for probe in acc.probe.values:
                        at = dict(model=model, layer=layer, input=inp)
                        curve = acc.sel(**at, probe=probe)
                        if not np.isfinite(curve.values).any():
                            continue  # this probe does not read this layer
                        u = unimodality(curve.sigma.values, curve.values)
                        c, c_peak = float("nan"), float("nan")
                        if "csnr_overall" in ds:
                            snr = ds["csnr_overall"].sel(**at).load()
                            c = float(snr.isel(sigma=u.peak_index))
                            c_peak = unimodality(snr.sigma.values, snr.values).peak_sigma
                        sd = float(acc_sd.sel(**at, probe=probe).isel(sigma=u.peak_index))
                        rows.append(SummaryRow(name, str(model), str(layer), str(inp), str(probe), u.peak_sigma,
                                               u.peak_value, sd, c, c_peak, u.unimodal,
                                               float(ens.sel(**at, probe=probe)),
                                               float(ens_sd.sel(**at, probe=probe))))
    return rows


def summary_json(rows: list[SummaryRow]) -> str:
    return json.dumps([{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()}
                       for r in rows])


__all__ = ["query", "parse_sel", "QueryError", "StoreError", "summarize", "SummaryRow", "to_csv", "to_json"]
