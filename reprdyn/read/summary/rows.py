"""The run summary's rows and their columns: what one row says (a value with its interval, chosen
on validation), and the table columns, declared once; the command line and the report render them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass


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
    label_noise: float = float("nan")  # the level the row is at (the lowest the cube holds)
    # every sigma* the fits chose, most chosen first, with its share, and the CSNR at each
    candidates: tuple[tuple[float, float], ...] = ()
    csnr_at_candidates: tuple[float, ...] = ()

    @property
    def best_sigma_label(self) -> str:
        """sigma*, with its spread under resampling when that is wider than one grid point; where
        the replicates and seeds chose differently, every choice with its share of the fits."""
        lo, hi = self.best_sigma_range
        text = f"{self.best_sigma:.4g}"
        if len(self.candidates) > 1:
            text = " / ".join(f"{s:.4g} ({share:.0%})" for s, share in self.candidates)
        if math.isfinite(lo) and (lo, hi) != (self.best_sigma, self.best_sigma):
            text += f" [{lo:.3g}–{hi:.3g}]"
        return text

    @property
    def csnr_label(self) -> str:
        """CSNR at sigma*, or at each sigma* the fits chose where they disagree."""
        finite = [c for c in self.csnr_at_candidates if math.isfinite(c)]
        if len(self.csnr_at_candidates) > 1 and finite:
            return " / ".join(_fmt(c) for c in self.csnr_at_candidates)
        return _fmt(self.csnr_at_best)


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
    label_noise: float = float("nan")  # the level the row is at

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
    label_noise: float = float("nan")  # the level the row is at

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
    ("CSNR@σ*", lambda r: r.csnr_label),
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
    """The coordinate columns of a table: point and model only when they vary; the label-noise
    level last (said once above a table whose rows share it)."""
    multi, swept = any(r.model for r in rows), any(r.point for r in rows)
    cell = ("point",) * swept + ("dataset",) + ("model",) * multi + (layer, "input", "probe")
    return cell + ("label noise",)


def lead_cells(r, columns: tuple[str, ...]) -> list[str]:
    named = {"layer": r.layer, "dense set": r.layer, "layers": r.layer, "best cell": r.layer}
    named["label noise"] = f"{r.label_noise:g}"
    return [named.get(c, getattr(r, c, "")) for c in columns]


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
