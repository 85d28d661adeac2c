"""The run summary, built from a store's cubes: one row per probe curve, with its uncertainty
(docs/theory.md §8).

Every headline is chosen on validation data and carries an interval. A row is one (dataset, model,
layer, input, probe) at the lowest label noise; its numbers are means over model replicates and
seeds, and its intervals come from a hierarchical bootstrap: replicates and seeds are resampled with
replacement, and each combined draw reads one paired resample of the validation and test samples.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np

from ...maths.uncertainty import central_range, hierarchical, verdict
from ...maths.unimodal import TOLERANCE, unimodality
from ...seeds import derive_seed
from ...store import cube
from ...store.cube import COMPARISONS
from .rows import ComparisonRow, GainRow, Interval, SegmentationRow, SummaryRow

# --- building the rows -----------------------------------------------------------------------


def settings(ds) -> tuple[float, int, int, float]:
    """(confidence, resamples, bootstrap seed, unimodality tolerance) a cube was made with."""
    a = cube.settings(ds, "analysis")
    tol = ds["unimodal"].attrs.get("tolerance", TOLERANCE) if "unimodal" in ds else TOLERANCE
    return a.get("confidence", 0.95), a.get("bootstrap", 0), a.get("seed", 0), float(tol)


def _hier(ds, name: str, at: dict, confidence: float, seed: int) -> Interval:
    """The mean of `name` over replicates and seeds at one cell, with its hierarchical interval."""
    point = ds[name].sel(**at)
    value = float(np.nanmean(point.values)) if np.isfinite(point.values).any() else float("nan")
    if f"{name}_boot" not in ds:
        return Interval(value)
    draws = ds[f"{name}_boot"].sel(**at).transpose("replicate", "seed", "boot").values
    _, low, high = hierarchical(draws, confidence, seed)
    return Interval(value, low, high)


def _lowest(ds):
    """The cube at its lowest label noise (selected by value)."""
    return ds.sel(label_noise=float(np.min(ds.label_noise.values)))


def _accuracy_rows(name: str, ds) -> list[SummaryRow]:
    confidence, B, seed, tol = settings(ds)
    hseed = derive_seed(seed, "hierarchical")
    low = _lowest(ds)
    rows = []
    for at in cell_grid(ds):
        acc = low["accuracy"].sel(**at).transpose("replicate", "sigma", "seed")
        if not np.isfinite(acc.values).any():
            continue  # this probe does not read this layer
        curve = acc.mean(("replicate", "seed"), skipna=True)  # (sigma,)
        best, agree = _mode(low["best_sigma"].sel(**at).values)
        sigmas = curve.sigma.values
        spread = (np.nan, np.nan)
        if "sigma_star_freq" in low:
            freq = low["sigma_star_freq"].sel(**at).mean(("replicate", "seed"), skipna=True)
            spread = central_range(freq.values, sigmas, confidence)
        u = unimodality(sigmas, curve.values, tol)
        prob = float("nan")
        if "unimodal_prob" in low:
            prob = float(np.nanmean(low["unimodal_prob"].sel(**at).values))
        word = verdict(prob, confidence) if math.isfinite(prob) else ("yes" if u.unimodal else "no")
        c_best, c_peak = _csnr(ds, at, best)
        reps = int(np.isfinite(acc.values).any(axis=(1, 2)).sum())
        rows.append(
            SummaryRow(
                name,
                *(str(at[k]) for k in ("model", "layer", "input", "probe")),
                best_sigma=best,
                best_sigma_agree=agree,
                best_sigma_range=spread,
                best_accuracy=_hier(low, "best_accuracy", at, confidence, hseed),
                val_accuracy=float(np.nanmean(low["val_accuracy"].sel(**at).max("sigma").values)),
                ensemble_accuracy=_hier(low, "ensemble_accuracy", at, confidence, hseed),
                ensemble_gain=_hier(low, "ensemble_gain", at, confidence, hseed),
                csnr_at_best=c_best,
                csnr_peak_sigma=c_peak,
                test_peak_sigma=u.peak_sigma,
                test_peak_accuracy=u.peak_value,
                unimodal=word,
                unimodal_prob=prob,
                replicates=reps,
                seeds=int(acc.sizes["seed"]),
            )
        )
    return rows


def _csnr(ds, at: dict, best: float) -> tuple[float, float]:
    """Empirical CSNR at sigma* and where its mean curve over replicates peaks."""
    if "csnr_overall" not in ds or not np.isfinite(best):
        return float("nan"), float("nan")
    snr = ds["csnr_overall"].sel(model=at["model"], layer=at["layer"], input=at["input"])
    snr = snr.mean("replicate", skipna=True).load()
    if not np.isfinite(snr.values).any():
        return float("nan"), float("nan")
    return float(snr.sel(sigma=best)), unimodality(snr.sigma.values, snr.values).peak_sigma


def _comparison_rows(name: str, ds) -> list[ComparisonRow]:
    confidence, _, seed, _ = settings(ds)
    hseed = derive_seed(seed, "hierarchical")
    low = _lowest(ds)
    rows = []
    for var, what in COMPARISONS.items():
        if var not in low:
            continue
        keys = [k for k in ("model", "layer", "input", "probe") if k in low[var].dims]
        for combo in itertools.product(*(low[k].values for k in keys)):
            at = dict(zip(keys, combo))
            diff = _hier(low, var, at, confidence, hseed)
            if math.isfinite(diff.value):
                cell = (str(at.get(k, "–")) for k in ("model", "layer", "input", "probe"))
                rows.append(ComparisonRow(name, *cell, var, what, diff))
    return rows


def _gain_rows(name: str, ds) -> list[GainRow]:
    confidence, _, seed, _ = settings(ds)
    hseed = derive_seed(seed, "hierarchical")
    rows = []
    for at in cell_grid(ds):
        for p in ds.label_noise.values:
            level = ds.sel(label_noise=p)
            best = _hier(level, "best_accuracy", at, confidence, hseed)
            if not math.isfinite(best.value):
                continue
            ens = _hier(level, "ensemble_accuracy", at, confidence, hseed)
            gain = _hier(level, "ensemble_gain", at, confidence, hseed)
            cell = (str(at[k]) for k in ("model", "layer", "input", "probe"))
            rows.append(GainRow(name, *cell, float(p), best, ens, gain))
    return rows


def _segmentation_rows(name: str, ds) -> list[SegmentationRow]:
    confidence, _, seed, tol = settings(ds)
    hseed = derive_seed(seed, "hierarchical")
    low = _lowest(ds)
    rows = []
    for at in cell_grid(ds):
        test = low["miou"].sel(**at).transpose("sigma", "replicate", "seed")  # (S, R, Sd)
        if not np.isfinite(test.values).any():
            continue
        val = low["val_miou"].sel(**at).transpose("sigma", "replicate", "seed").values
        pick = np.nan_to_num(val, nan=-1).argmax(0)  # (R, Sd) per fit
        sigmas = test.sigma.values
        fitted = np.isfinite(test.values).any(0)  # (R, Sd)
        best, agree = _mode(np.where(fitted, sigmas[pick], np.nan))
        R, Sd = pick.shape
        at_best = test.values[pick, np.arange(R)[:, None], np.arange(Sd)[None]]  # (R, Sd)
        value = Interval(float(np.nanmean(at_best)))
        if "miou_boot" in low:
            boot = low["miou_boot"].sel(**at).transpose("sigma", "replicate", "seed", "boot").values
            draws = boot[pick, np.arange(R)[:, None], np.arange(Sd)[None]]  # (R, Sd, B)
            value = Interval(value.value, *hierarchical(draws, confidence, hseed)[1:])
        curve = test.mean(("replicate", "seed"), skipna=True)
        u = unimodality(sigmas, curve.values, tol)
        rows.append(
            SegmentationRow(
                name,
                *(str(at[k]) for k in ("model", "layer", "input", "probe")),
                best,
                agree,
                value,
                u.peak_sigma,
                u.peak_value,
                "yes" if u.unimodal else "no",
                int(fitted.any(1).sum()),
                Sd,
            )
        )
    return rows


def _mode(values: np.ndarray) -> tuple[float, float]:
    """The most common finite value (lowest on ties) and the share of finite entries equal to it."""
    v = np.asarray(values, float).ravel()
    v = v[np.isfinite(v)]
    vals, counts = np.unique(v, return_counts=True)
    if not len(vals):
        return float("nan"), float("nan")
    i = int(np.argmax(counts))
    return float(vals[i]), float(counts[i] / len(v))


def cell_grid(ds) -> list[dict]:
    """Every (model, layer, input, probe) of a cube, in that nesting order."""
    return [
        dict(model=m, layer=x, input=i, probe=p)
        for m in ds.model.values
        for x in ds.layer.values
        for i in ds.input.values
        for p in ds.probe.values
    ]


def _rows(path: str, var: str, build) -> list:
    """`build(dataset, cube)` over every dataset cube holding `var` (a `model` dim always
    present); a sweep store's points one after another, each row labelled with its point."""
    from ...store import Results, point_label

    res = Results(path)
    if res.sweep_dims:
        return [
            replace(r, point=point_label(v))
            for v, sub in res.points
            for r in _rows(sub.path, var, build)
        ]
    rows = []
    for name in res.datasets:
        ds = res[name]
        if var in ds:
            rows += build(name, ds.expand_dims(model=[""]) if "model" not in ds.dims else ds)
    return rows


def summarize(path: str) -> list[SummaryRow]:
    """Per dataset, model, layer, input and probe: the validation-chosen sigma and its test
    accuracy, the ensemble, and the shape of the test curve, at the lowest label noise."""
    return _rows(path, "accuracy", _accuracy_rows)


def summarize_segmentation(path: str) -> list[SegmentationRow]:
    """Per dataset, model, dense set, input and segmentation probe: sigma* by validation mIoU, its
    test mIoU with its interval, and the shape of the test mIoU curve, at the lowest label
    noise."""
    return _rows(path, "miou", _segmentation_rows)


def gains(path: str) -> list[GainRow]:
    """The ensemble's gain over the best single sigma at every label-noise level (Table 1)."""
    return _rows(path, "ensemble_gain", _gain_rows)


def compare(path: str) -> list[ComparisonRow]:
    """Every paired difference the store holds, at the lowest label noise, with its interval."""
    return _rows(path, "accuracy", _comparison_rows)


def store_settings(path: str) -> tuple[float | None, int]:
    """(confidence, resamples) of a store's first cube, for the tables' notes."""
    from ...store import Results

    res = Results(path)
    while res.sweep_dims and res.points:
        res = res.points[0][1]
    for name in res.datasets:
        confidence, B, _, _ = settings(res[name])
        return confidence, B
    return None, 0
