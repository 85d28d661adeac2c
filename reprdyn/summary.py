"""Read stage: the run summary, one row per probe curve, with its uncertainty (docs/theory.md §8).

Every headline is chosen on validation data and carries an interval. A row is one (dataset, model,
layer, input, probe) at the lowest label noise; its numbers are means over model replicates and
seeds, and its intervals come from a hierarchical bootstrap: replicates and seeds are resampled with
replacement, and each combined draw reads one paired resample of the validation and test samples.
`COLUMNS` declares the columns once; the command line and the report render them.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import cube
from .cube import COMPARISONS
from .metrics.uncertainty import central_range, hierarchical, verdict
from .metrics.unimodal import TOLERANCE, unimodality
from .seeds import derive_seed


@dataclass(frozen=True)
class Interval:
    """A value with the interval around it (NaN bounds: no bootstrap)."""

    value: float
    low: float = float("nan")
    high: float = float("nan")

    def __str__(self) -> str:
        """0.584 [0.571, 0.593]: the bounds as they are (a bootstrap interval need not be
        centred on the value: sigma* is chosen again under every resample)."""
        if not math.isfinite(self.value):
            return "–"
        if not math.isfinite(self.low):
            return f"{self.value:.3f}"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def signed(self) -> str:
        """A difference: +0.012 [+0.004, +0.020]."""
        if not math.isfinite(self.value):
            return "–"
        text = f"{self.value:+.3f}"
        return (
            text if not math.isfinite(self.low) else f"{text} [{self.low:+.3f}, {self.high:+.3f}]"
        )

    @property
    def sign(self) -> str:
        """'> 0' or '< 0' when the interval excludes zero, else 'within noise' ('n/a': none)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return "n/a"
        return "> 0" if self.low > 0 else "< 0" if self.high < 0 else "within noise"


@dataclass(frozen=True)
class SummaryRow:
    """One probe curve at the lowest label noise: sigma* chosen on validation, test accuracy there,
    the ensemble, the curve's shape, each with its interval."""

    dataset: str
    model: str  # '' for a single-model spec
    layer: str
    input: str
    probe: str
    best_sigma: float  # sigma* chosen on validation: the most common choice over replicates, seeds
    best_sigma_agree: float  # share of (replicate, seed) whose validation choice is best_sigma
    best_sigma_range: tuple[float, float]  # central `confidence` range of sigma* under resampling
    best_accuracy: Interval  # test accuracy at each fit's sigma*, mean over replicates and seeds
    val_accuracy: float  # validation accuracy at sigma*, mean (what the choice saw)
    ensemble_accuracy: Interval
    ensemble_gain: Interval  # ensemble minus best single sigma, paired
    csnr_at_best: float  # empirical CSNR at best_sigma (mean over replicates)
    csnr_peak_sigma: float  # where the mean CSNR curve peaks
    test_peak_sigma: float  # descriptive: where the mean test curve peaks
    test_peak_accuracy: float  # descriptive: the mean test curve's maximum
    unimodal: str  # yes / no / uncertain (at `confidence`), from unimodal_prob
    unimodal_prob: float  # share of resamples, replicates and seeds whose test curve is unimodal
    replicates: int
    seeds: int
    point: str = ""  # a sweep point, e.g. "n_train=64"; '' outside sweeps

    @property
    def best_sigma_label(self) -> str:
        """sigma*, with its spread under resampling when that is wider than one grid point."""
        lo, hi = self.best_sigma_range
        text = f"{self.best_sigma:.4g}"
        if math.isfinite(lo) and (lo, hi) != (self.best_sigma, self.best_sigma):
            text += f" [{lo:.3g}–{hi:.3g}]"
        return text


@dataclass(frozen=True)
class SegmentationRow:
    """One segmentation curve (a dense set, input and probe) at the lowest label noise: sigma*
    chosen on validation mIoU, test mIoU there with its interval (test images resampled)."""

    dataset: str
    model: str
    layer: str  # a dense set
    input: str
    probe: str
    best_sigma: float
    best_sigma_agree: float
    best_miou: Interval
    test_peak_sigma: float  # descriptive: where the mean test curve peaks
    test_peak_miou: float
    unimodal: str  # yes / no (the mean curve's shape; segmentation has no resampled verdict)
    replicates: int
    seeds: int
    point: str = ""

    @property
    def best_sigma_label(self) -> str:
        agree = f" ({self.best_sigma_agree:.0%} of fits)" if self.best_sigma_agree < 1 else ""
        return f"{self.best_sigma:.4g}{agree}"


@dataclass(frozen=True)
class ComparisonRow:
    """A paired difference at the lowest label noise (ensemble gain, clean − noisy, features −
    pixels, diffusion − DAE), with its interval and what the interval says."""

    dataset: str
    model: str
    layer: str
    input: str
    probe: str
    comparison: str  # the variable, e.g. ensemble_gain
    what: str  # in words
    difference: Interval
    point: str = ""

    @property
    def sign(self) -> str:
        return self.difference.sign


@dataclass(frozen=True)
class GainRow:
    """The ensemble against the best single sigma at one label-noise level (Table 1)."""

    dataset: str
    model: str
    layer: str
    input: str
    probe: str
    label_noise: float
    best_accuracy: Interval
    ensemble_accuracy: Interval
    ensemble_gain: Interval
    point: str = ""

    @property
    def sign(self) -> str:
        return self.ensemble_gain.sign


# --- the columns, declared once ------------------------------------------------------------


def _cols(*pairs):
    return tuple(pairs)


ACCURACY_COLUMNS = _cols(
    ("σ* (val) [spread]", lambda r: r.best_sigma_label),
    ("acc@σ*", lambda r: str(r.best_accuracy)),
    ("ensemble acc", lambda r: str(r.ensemble_accuracy)),
    ("ensemble gain", lambda r: r.ensemble_gain.signed()),
    ("CSNR@σ*", lambda r: _fmt(r.csnr_at_best)),
    ("CSNR peak σ", lambda r: _fmt(r.csnr_peak_sigma)),
    ("test-curve peak σ", lambda r: _fmt(r.test_peak_sigma)),
    ("test-curve peak acc", lambda r: _fmt4(r.test_peak_accuracy)),
    ("unimodal (p)", lambda r: _verdict(r.unimodal, r.unimodal_prob)),
)
SEGMENTATION_COLUMNS = _cols(
    ("σ* (val)", lambda r: r.best_sigma_label),
    ("mIoU@σ*", lambda r: str(r.best_miou)),
    ("test-curve peak σ", lambda r: _fmt(r.test_peak_sigma)),
    ("peak mIoU", lambda r: _fmt4(r.test_peak_miou)),
    ("unimodal", lambda r: r.unimodal),
)
GAIN_COLUMNS = _cols(
    ("label noise", lambda r: f"{r.label_noise:g}"),
    ("best single σ", lambda r: str(r.best_accuracy)),
    ("ensemble", lambda r: str(r.ensemble_accuracy)),
    ("gain", lambda r: r.ensemble_gain.signed()),
    ("at the confidence", lambda r: r.sign),
)
COMPARISON_COLUMNS = _cols(
    ("comparison", lambda r: r.what),
    ("difference", lambda r: r.difference.signed()),
    ("at the confidence", lambda r: r.sign),
)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else "–"
    return str(v)


def _fmt4(v: float) -> str:
    return f"{v:.4f}" if math.isfinite(v) else "–"


def _verdict(word: str, p: float) -> str:
    return f"{word} ({p:.2f})" if math.isfinite(p) else word


def lead_columns(rows: list, layer: str = "layer") -> tuple[str, ...]:
    """The coordinate columns of a table: point and model only when they vary."""
    multi, swept = any(r.model for r in rows), any(r.point for r in rows)
    return ("point",) * swept + ("dataset",) + ("model",) * multi + (layer, "input", "probe")


def lead_cells(r, columns: tuple[str, ...]) -> list[str]:
    return [{"layer": r.layer, "dense set": r.layer}.get(c, getattr(r, c, "")) for c in columns]


def interval_note(rows: list, confidence: float | None, resamples: int) -> str:
    """What the ± of a table means: which sources its intervals cover."""
    if not rows or confidence is None or not resamples:
        return "no intervals (analysis.bootstrap: 0)"
    R, S = max(r.replicates for r in rows), max(r.seeds for r in rows)
    return (
        f"[low, high]: the {confidence:.0%} interval of a hierarchical bootstrap over {R} model "
        f"replicate(s), {S} seed(s) and {resamples} paired resamples of the validation and test "
        "samples (docs/theory.md §8)"
    )


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
    for at in _cells(ds):
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
    for at in _cells(ds):
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
    for at in _cells(ds):
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


def _cells(ds) -> list[dict]:
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
    from .store import Results, point_label

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
    from .store import Results

    res = Results(path)
    while res.sweep_dims and res.points:
        res = res.points[0][1]
    for name in res.datasets:
        confidence, B, _, _ = settings(res[name])
        return confidence, B
    return None, 0


def as_cells(rows: list, columns: tuple, layer: str = "layer") -> tuple[list[str], list[list]]:
    """(header, body) of a table of rows: the coordinate columns, then `columns`."""
    lead = lead_columns(rows, layer)
    header = [*lead, *(name for name, _ in columns)]
    return header, [[*lead_cells(r, lead), *(cell(r) for _, cell in columns)] for r in rows]


def summary_json(rows: list) -> str:
    def plain(v):
        if isinstance(v, dict) and set(v) == {"value", "low", "high"}:
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return None if isinstance(v, float) and math.isnan(v) else v

    return json.dumps([{k: plain(v) for k, v in asdict(r).items()} for r in rows])
