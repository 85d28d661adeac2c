"""Metric `accuracy`: a classification probe fitted at every sigma, sigma* and the soft-voting
ensemble chosen on validation, test accuracy there, and the paired bootstrap of all of it
(docs/theory.md §6, §8; the protocol's steps are `reprdyn.probes.protocol`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..maths.uncertainty import central_range, curve_interval, interval
from .base import PROBE_DIMS, Figure, Metric, Stage, Table, Variable, bootstrapped, with_uncertainty

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr

    from ..read.summary.rows import GainRow, SummaryRow

SIGMA_CURVE = ("sigma", *PROBE_DIMS)


VARIABLES = {
    **with_uncertainty(
        "accuracy",
        Variable(
            SIGMA_CURVE,
            "test accuracy of the probe trained at each sigma",
            long_name="test accuracy",
        ),
    ),
    "val_accuracy": Variable(
        SIGMA_CURVE,
        "accuracy on the validation split carved from train (used for selection)",
        long_name="validation accuracy",
    ),
    "best_sigma": Variable(
        PROBE_DIMS,
        "sigma with the highest validation accuracy",
        long_name="sigma* (chosen on validation)",
    ),
    **with_uncertainty(
        "best_accuracy",
        Variable(
            PROBE_DIMS,
            "test accuracy of the single probe at best_sigma (the ensemble's baseline)",
            long_name="test accuracy at sigma*",
        ),
    ),
    **with_uncertainty(
        "ensemble_accuracy",
        Variable(
            PROBE_DIMS,
            "test accuracy of soft voting over the ensemble members (see the spec's ensemble)",
            long_name="ensemble test accuracy",
        ),
    ),
    **with_uncertainty(
        "ensemble_gain",
        Variable(
            PROBE_DIMS,
            "ensemble_accuracy - best_accuracy: what soft voting across sigmas adds (Table 1)",
            long_name="ensemble gain",
            comparison="ensemble − best single σ",
        ),
    ),
    "ensemble_members": Variable(
        (*PROBE_DIMS, "member"),
        "sigmas in the ensemble (NaN-padded)",
        long_name="ensemble member sigmas",
    ),
    "sigma_star_freq": Variable(
        SIGMA_CURVE,
        "share of bootstrap resamples of the validation split whose choice of sigma* is this sigma",
        long_name="frequency of sigma* under resampling",
        applies=bootstrapped,
    ),
}


def compute(cell) -> dict:
    """Selection on validation, test accuracy per sigma, at sigma* and for the ensemble, and with
    a bootstrap their resamples and intervals, from the cell's validation hits (S, T, n_val) and
    test logits (S, T, m, K)."""
    from ..probes.protocol import choose, evaluate, member_sigmas

    spec = cell.spec
    val = cell.val_correct.mean(-1)  # (S, T)
    best, members = choose(val, spec.ensemble)
    acc, _, ens = evaluate(cell.logits, cell.y_test, best, members, cell.K)
    at_best = acc[best, np.arange(len(best))]
    values = {
        "accuracy": acc,
        "val_accuracy": val,
        "best_sigma": np.asarray(spec.sigmas)[best],
        "best_accuracy": at_best,
        "ensemble_accuracy": ens,
        "ensemble_gain": ens - at_best,
        "ensemble_members": member_sigmas(spec, members),
    }
    if spec.bootstrap:
        values.update(_resampled(cell))
    return values


def _resampled(cell) -> dict:
    """The paired bootstrap of one cell (`probes.protocol.resampled`), with the intervals."""
    from ..probes.protocol import resampled

    acc_b, best_acc_b, ens_b, freq = resampled(
        cell.spec, cell.dataset, cell.val_correct, cell.logits, cell.y_test
    )
    out = {
        "accuracy_boot": acc_b,
        "best_accuracy_boot": best_acc_b,
        "ensemble_accuracy_boot": ens_b,
        "ensemble_gain_boot": ens_b - best_acc_b,
        "sigma_star_freq": freq,
    }
    for name in ("accuracy", "best_accuracy", "ensemble_accuracy", "ensemble_gain"):
        out[f"{name}_ci"] = interval(out[f"{name}_boot"], cell.spec.analysis.confidence)
    return out


def _classification_probe(spec):
    from . import get

    classify = [p.label for p in spec.probes if not p.dense]
    asked = {"accuracy"} | {m for m in spec.metrics if "accuracy" in get(m).brings}
    if not classify and asked & set(spec.metrics):
        yield (
            ("metrics",),
            (
                "accuracy needs a classification probe (ridge, logistic, bn-linear, mlp); the "
                "probes are all segmentation probes, which report miou: drop accuracy from metrics"
            ),
        )


def classifies(raw: dict) -> bool:
    """Whether a raw spec has a classification probe (no `probes`: the default ridge probe)."""
    from ..probes.kinds import dense_kinds

    probes = raw.get("probes") if isinstance(raw.get("probes"), list) else []
    return not probes or not all(
        isinstance(p, dict) and p.get("kind") in dense_kinds() for p in probes
    )


# --- the summary's tables ----------------------------------------------------------


def _accuracy_rows(name: str, ds) -> list[SummaryRow]:
    from ..maths.uncertainty import verdict
    from ..maths.unimodal import unimodality
    from ..read.summary.build import mode, reading
    from ..read.summary.rows import SummaryRow

    r = reading(ds)
    low, confidence, tol = r.low, r.confidence, r.tolerance
    rows = []
    for at, acc in r.cells("accuracy", "replicate", "sigma", "seed"):
        curve = acc.mean(("replicate", "seed"), skipna=True)  # (sigma,)
        best, agree = mode(low["best_sigma"].sel(**at).values)
        sigmas = curve.sigma.values
        spread = (np.nan, np.nan)
        if "sigma_star_freq" in low:
            freq = low["sigma_star_freq"].sel(**at).mean(("replicate", "seed"), skipna=True)
            spread = central_range(freq.values, sigmas, confidence)
        u = unimodality(sigmas, curve.values, tol, r.flat)
        prob = float("nan")
        if "unimodal_prob" in low:
            prob = float(np.nanmean(low["unimodal_prob"].sel(**at).values))
        # a verdict only where the unimodality metric ran (under the bootstrap, with its share)
        word = "yes" if u.unimodal else "no" if "unimodal" in low else "–"
        word = verdict(prob, confidence) if math.isfinite(prob) else word
        chosen = _candidates(low["best_sigma"].sel(**at).values)
        (c_best, *c_each), c_peak = _csnr(ds, at, [best, *(s for s, _ in chosen)])
        reps = int(np.isfinite(acc.values).any(axis=(1, 2)).sum())
        rows.append(
            SummaryRow(
                name,
                *(str(at[k]) for k in ("model", "layer", "input", "probe")),
                best_sigma=best,
                best_sigma_agree=agree,
                best_sigma_range=spread,
                best_accuracy=r.interval("best_accuracy", at),
                val_accuracy=float(np.nanmean(low["val_accuracy"].sel(**at).max("sigma").values)),
                ensemble_accuracy=r.interval("ensemble_accuracy", at),
                ensemble_gain=r.interval("ensemble_gain", at),
                csnr_at_best=c_best,
                csnr_peak_sigma=c_peak,
                test_peak_sigma=u.peak_sigma,
                test_peak_accuracy=u.peak_value,
                unimodal=word,
                unimodal_prob=prob,
                replicates=reps,
                seeds=int(acc.sizes["seed"]),
                label_noise=r.level,
                candidates=chosen,
                csnr_at_candidates=tuple(c_each),
            )
        )
    return rows


def _candidates(best: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Every sigma* the fits chose, the most chosen first (the lower sigma on ties), with its
    share of the fits."""
    v = np.asarray(best, float).ravel()
    v = v[np.isfinite(v)]
    values, counts = np.unique(v, return_counts=True)
    order = np.lexsort((values, -counts))
    return tuple((float(values[i]), float(counts[i] / len(v))) for i in order)


def _csnr(ds, at: dict, sigmas: list[float]) -> tuple[list[float], float]:
    """Empirical CSNR at each of `sigmas` (sigma* first, then the fits' choices), and where its
    mean curve over replicates peaks; NaN throughout without a sigma*."""
    from ..maths.unimodal import unimodality

    none = ([float("nan")] * len(sigmas), float("nan"))
    if "csnr_overall" not in ds or not np.isfinite(sigmas[0]):  # no sigma*: nothing to read
        return none
    snr = ds["csnr_overall"].sel(model=at["model"], layer=at["layer"], input=at["input"])
    snr = snr.mean("replicate", skipna=True).load()
    if not np.isfinite(snr.values).any():
        return none
    at_each = [float(snr.sel(sigma=s)) if np.isfinite(s) else float("nan") for s in sigmas]
    return at_each, unimodality(snr.sigma.values, snr.values).peak_sigma


def _gain_rows(name: str, ds) -> list[GainRow]:
    from ..read.summary.build import cell_grid, reading
    from ..read.summary.rows import GainRow

    r = reading(ds)
    rows = []
    for at in cell_grid(ds):
        for p in ds.label_noise.values:
            level = ds.sel(label_noise=p)
            best = r.interval("best_accuracy", at, level)
            if not math.isfinite(best.value):
                continue
            ens = r.interval("ensemble_accuracy", at, level)
            gain = r.interval("ensemble_gain", at, level)
            cell = (str(at[k]) for k in ("model", "layer", "input", "probe"))
            rows.append(GainRow(name, *cell, float(p), best, ens, gain))
    return rows


# --- figures -------------------------------------------------------------------------


def curves(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    from ..plot import style

    acc = style.lowest_of(ds, "accuracy", "curves")
    best = style.lowest_of(ds, "best_sigma")
    boot = style.lowest_of(ds, "accuracy_boot")
    freq = style.lowest_of(ds, "sigma_star_freq")
    confidence, seed = style.settings(ds)
    probes = list(acc.probe.values)
    fig, axes = style.panels(len(probes), cols=2, panel=style.WIDE)
    for ax, probe in zip(axes, probes):
        a = acc.sel(probe=probe)
        mean = a.mean(style.fits(a))
        for label, m in style.series(mean, ("sigma",)):
            at = {d: m[d].item() for d in m.coords if d in a.dims and m[d].ndim == 0}
            x, y = m.sigma.values, m.values
            (line,) = ax.plot(x, y, marker="o", label=label)
            if boot is not None:  # the interval of the mean over replicates and seeds
                lo, hi = style.band(boot.sel(probe=probe, **at), confidence, seed)
            else:  # no bootstrap: the spread of the fits
                sd = np.nan_to_num(a.sel(at).std(style.fits(a)).values)
                lo, hi = y - sd, y + sd
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
            chosen = style.mode(best.sel(probe=probe, **at).values)
            i = np.flatnonzero(np.isclose(x, chosen))
            if len(i):  # sigma* from validation, at its test accuracy, with its spread
                ax.plot(x[i], y[i], marker="*", markersize=9, color=line.get_color(), zorder=5)
                if freq is not None:  # where resampling the validation split moves sigma*
                    f = freq.sel(probe=probe, **at).mean(style.fits(a))
                    left, right = central_range(f.values, x, confidence)
                    xerr = [[x[i][0] - left], [right - x[i][0]]]
                    below = y[i] - 0.04 * max(np.nanmax(acc.values) - np.nanmin(acc.values), 0.05)
                    ax.errorbar(
                        x[i], below, xerr=xerr, fmt="none", ecolor=line.get_color(),
                        elinewidth=0.8, alpha=0.6, capsize=2.5, zorder=4,
                    )  # fmt: skip
        style.sigma_axis(ax, acc.sigma.values)
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{dataset}: probe {probe}")
        style.legend(ax)
    band = (
        f"band: {confidence:.0%} interval over replicates, seeds and test resamples"
        if boot is not None
        else "band: ± std over replicates and seeds"
    )
    spread = "; ★ σ* chosen on validation" + (
        f", bar beneath: its {confidence:.0%} range under resampling" if freq is not None else ""
    )
    fig.suptitle("test accuracy across σ", fontsize=9)
    style.caption(fig, f"{band}{spread}.")
    return fig


def label_noise(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    from ..plot import style

    best = style.with_model(style.need(ds, "best_accuracy", "label-noise")).load()
    gain = style.with_model(style.need(ds, "ensemble_gain", "label-noise")).load()
    boot = style.with_model(ds["ensemble_gain_boot"]).load() if "ensemble_gain_boot" in ds else None
    confidence, seed = style.settings(ds)
    keep = ("label_noise", *style.fits(gain))
    groups = [
        (b, g)
        for b, g in zip(style.series(best, keep), style.series(gain, keep))
        if np.nanmax(np.abs(g[1].values)) > 0  # an ensemble of identical members gains nothing
    ]
    fig, axes = style.panels(len(groups))
    for ax, ((label, b), (_, g)) in zip(axes, groups):
        p = b.label_noise.values
        x = np.arange(len(p))
        m = (
            100 * g.mean(style.fits(g)).values
        )  # in accuracy points: the difference Table 1 is about
        if boot is not None:
            at = {d: g[d].item() for d in g.coords if d in boot.dims and g[d].ndim == 0}
            cell = boot.sel(at).transpose("label_noise", *style.fits(g), "boot").values
            bounds = 100 * np.stack(curve_interval(cell, confidence, seed), axis=1)  # (P, 2)
            err = np.abs(bounds.T - m)
            real = (bounds[:, 0] > 0) | (bounds[:, 1] < 0)  # the interval excludes 0
        else:
            err = np.nan_to_num(100 * g.std(style.fits(g)).values)
            real = np.zeros(len(m), bool)
        colour = np.where(m >= 0, np.where(real, "C1", "#f7c99a"), np.where(real, "0.35", "0.75"))
        ax.bar(x, m, 0.6, yerr=err, capsize=2, color=colour)
        ax.axhline(0, color="k", linewidth=0.8)
        base = b.mean(style.fits(b)).values  # the accuracy the gain is over, at each level
        ax.set_xticks(x, [f"{v:g}\n({bi:.2f})" for v, bi in zip(p, base)])
        ax.margins(y=0.2)
        ax.set_xlabel("label noise (best single σ's accuracy)")
        ax.set_ylabel("gain over best σ (points)")
        ax.set_title(label)
    bars = (
        f"{confidence:.0%} interval; dark bars: it excludes 0"
        if boot is not None
        else "± std over replicates and seeds"
    )
    fig.suptitle(f"{dataset}: soft-voting ensemble against the best single σ", fontsize=9)
    style.caption(
        fig, f"The gain in accuracy points under label noise (the paper's Table 1); bars: {bars}."
    )
    return fig


def _tables() -> tuple:
    from ..read.summary.rows import ACCURACY_COLUMNS, GAIN_COLUMNS

    return (
        Table(
            "summary",
            "accuracy",
            _accuracy_rows,
            ACCURACY_COLUMNS,
            title="summary at the lowest label noise: σ* is chosen on validation ([spread]: where "
            "resampling moves it); acc@σ*, the ensemble and its gain are test accuracy, means over "
            "replicates and seeds; the test-curve peak only describes the curve",
            headline=("val_accuracy", "best_accuracy"),
        ),
        Table(
            "gains",
            "ensemble_gain",
            _gain_rows,
            GAIN_COLUMNS,
            title="Ensemble vs best single σ across label noise (Table 1)",
            per_dataset=True,
            heading="Ensemble vs best single σ across label noise (Table 1)",
        ),
    )


METRIC = Metric(
    name="accuracy",
    stage=Stage.PROBE,
    about="test accuracy of a probe at every sigma, sigma* chosen on validation, the soft-voting "
    "ensemble, with paired bootstrap intervals",
    variables=VARIABLES,
    compute=compute,
    default=classifies,
    reads={"pooled", "labels"},
    provides=("curves",),
    brings=("aggregation",),  # the joint probes' accuracy, where a spec has one
    rules=_classification_probe,
    check_var="val_accuracy",
    figures=(
        Figure(
            "curves",
            "accuracy against sigma, a line per layer (and sweep point), an interval band, the "
            "sigma chosen on validation marked with its spread",
            curves,
            at_lowest_noise=True,
        ),
        Figure(
            "label-noise",
            "the ensemble's gain over the best single sigma at each label-noise level (Table 1), "
            "with intervals",
            label_noise,
        ),
    ),
    tables=_tables,
    export={"accuracy": "accuracy_boot", "val_accuracy": None},
    order=10,
)
