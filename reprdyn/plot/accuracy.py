"""Figures of accuracy curves: across sigma, under label noise, DAE against diffusion, and the
generalisation sweep."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from ..maths.uncertainty import central_range, curve_interval
from .style import (
    WIDE,
    FigureError,
    _band,
    _figure_legend,
    _fits,
    _legend,
    _lowest,
    _mode,
    _need,
    _panels,
    _series,
    _settings,
    _sigma_axis,
    _with_model,
    caption,
)


def curves(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    acc = _lowest(_with_model(_need(ds, "accuracy", "curves"))).load()
    best = _lowest(_with_model(ds["best_sigma"])).load()
    boot = _lowest(_with_model(ds["accuracy_boot"])).load() if "accuracy_boot" in ds else None
    freq = _lowest(_with_model(ds["sigma_star_freq"])).load() if "sigma_star_freq" in ds else None
    confidence, seed = _settings(ds)
    probes = list(acc.probe.values)
    fig, axes = _panels(len(probes), cols=2, panel=WIDE)
    for ax, probe in zip(axes, probes):
        a = acc.sel(probe=probe)
        mean = a.mean(_fits(a))
        for label, m in _series(mean, ("sigma",)):
            at = {d: m[d].item() for d in m.coords if d in a.dims and m[d].ndim == 0}
            x, y = m.sigma.values, m.values
            (line,) = ax.plot(x, y, marker="o", label=label)
            if boot is not None:  # the interval of the mean over replicates and seeds
                lo, hi = _band(boot.sel(probe=probe, **at), confidence, seed)
            else:  # no bootstrap: the spread of the fits
                sd = np.nan_to_num(a.sel(at).std(_fits(a)).values)
                lo, hi = y - sd, y + sd
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
            chosen = _mode(best.sel(probe=probe, **at).values)
            i = np.flatnonzero(np.isclose(x, chosen))
            if len(i):  # sigma* from validation, at its test accuracy, with its spread
                ax.plot(x[i], y[i], marker="*", markersize=9, color=line.get_color(), zorder=5)
                if freq is not None:  # where resampling the validation split moves sigma*
                    f = freq.sel(probe=probe, **at).mean(_fits(a))
                    left, right = central_range(f.values, x, confidence)
                    xerr = [[x[i][0] - left], [right - x[i][0]]]
                    below = y[i] - 0.04 * max(np.nanmax(acc.values) - np.nanmin(acc.values), 0.05)
                    ax.errorbar(
                        x[i], below, xerr=xerr, fmt="none", ecolor=line.get_color(),
                        elinewidth=0.8, alpha=0.6, capsize=2.5, zorder=4,
                    )  # fmt: skip
        _sigma_axis(ax, acc.sigma.values)
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{dataset}: probe {probe}")
        _legend(ax)
    band = (
        f"band: {confidence:.0%} interval over replicates, seeds and test resamples"
        if boot is not None
        else "band: ± std over replicates and seeds"
    )
    spread = "; ★ σ* chosen on validation" + (
        f", bar beneath: its {confidence:.0%} range under resampling" if freq is not None else ""
    )
    fig.suptitle("test accuracy across σ", fontsize=9)
    caption(fig, f"{band}{spread}.")
    return fig


def label_noise(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    best = _with_model(_need(ds, "best_accuracy", "label-noise")).load()
    gain = _with_model(_need(ds, "ensemble_gain", "label-noise")).load()
    boot = _with_model(ds["ensemble_gain_boot"]).load() if "ensemble_gain_boot" in ds else None
    confidence, seed = _settings(ds)
    keep = ("label_noise", *_fits(gain))
    groups = [
        (b, g)
        for b, g in zip(_series(best, keep), _series(gain, keep))
        if np.nanmax(np.abs(g[1].values)) > 0  # an ensemble of identical members gains nothing
    ]
    fig, axes = _panels(len(groups))
    for ax, ((label, b), (_, g)) in zip(axes, groups):
        p = b.label_noise.values
        x = np.arange(len(p))
        m = 100 * g.mean(_fits(g)).values  # in accuracy points: the difference Table 1 is about
        if boot is not None:
            at = {d: g[d].item() for d in g.coords if d in boot.dims and g[d].ndim == 0}
            cell = boot.sel(at).transpose("label_noise", *_fits(g), "boot").values
            bounds = 100 * np.stack(curve_interval(cell, confidence, seed), axis=1)  # (P, 2)
            err = np.abs(bounds.T - m)
            real = (bounds[:, 0] > 0) | (bounds[:, 1] < 0)  # the interval excludes 0
        else:
            err = np.nan_to_num(100 * g.std(_fits(g)).values)
            real = np.zeros(len(m), bool)
        colour = np.where(m >= 0, np.where(real, "C1", "#f7c99a"), np.where(real, "0.35", "0.75"))
        ax.bar(x, m, 0.6, yerr=err, capsize=2, color=colour)
        ax.axhline(0, color="k", linewidth=0.8)
        base = b.mean(_fits(b)).values  # the accuracy the gain is over, at each level
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
    caption(
        fig, f"The gain in accuracy points under label noise (the paper's Table 1); bars: {bars}."
    )
    return fig


def dae_vs_diffusion(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    if "model" not in ds.dims or ds.sizes["model"] < 2:
        raise FigureError(
            "figure 'dae-vs-diffusion' compares models; it needs a spec with `models:` (such as "
            "specs/dae-vs-diffusion.yaml)"
        )
    acc = _lowest(_need(ds, "accuracy", "dae-vs-diffusion"))
    acc = acc.mean(_fits(acc)).load()
    sw = _need(ds, "sw_distance", "dae-vs-diffusion").mean("replicate").load()
    rows = [
        (
            label,
            probe,
            a,
            sw.sel({d: a[d].item() for d in a.coords if d in sw.dims and a[d].ndim == 0}),
        )
        for label, a in _series(acc, ("sigma", "model", "probe"))
        for probe in [
            next((p for p in a.probe.values if np.isfinite(a.sel(probe=p).values).any()), None)
        ]
        if probe is not None
    ]
    fig, axes = _panels(2 * len(rows), cols=2)
    for k, (label, probe, a, s) in enumerate(rows):
        a1, a2 = axes[2 * k], axes[2 * k + 1]
        for model in a.model.values:
            a1.plot(
                a.sigma.values, a.sel(model=model, probe=probe).values, marker="o", label=str(model)
            )
            a2.plot(s.sigma.values, s.sel(model=model).values, marker="o", label=str(model))
        for ax, ylabel in ((a1, "test accuracy"), (a2, "sliced W₂ to the best σ")):
            _sigma_axis(ax, a.sigma.values)
            ax.set_ylabel(ylabel)
        a1.set_title(f"{dataset}: {label}, probe {probe}")
        a2.set_title(f"{label}: distance to the features at the best σ")
    _figure_legend(fig, axes[0])
    return fig


def generalization(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    if not sweep:
        raise FigureError(
            "figure 'generalization' needs a sweep store (a spec with `sweep:`, such as "
            "specs/memorization.yaml)"
        )
    score = _need(ds, "generalization", "generalization").mean("replicate").load()
    dim = sweep[0]
    acc = _lowest(_with_model(_need(ds, "accuracy", "generalization")))
    acc = acc.mean(_fits(acc)).load()
    first = {d: acc[d].values[0] for d in ("model", "input")}
    layer, probe = next(
        (lay, p)
        for lay in acc.layer.values
        for p in acc.probe.values
        if np.isfinite(acc.sel(layer=lay, probe=p, **first).values).any()
    )
    fig, (a1, a2) = _panels(2, cols=2, panel=(4.2, 2.6))
    values = acc[dim].values
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(values)))
    for c, v in zip(colours, values):
        curve = acc.sel({dim: v, "layer": layer, "probe": probe, **first})
        curve = curve.isel({d: 0 for d in curve.dims if d != "sigma"})
        a1.plot(curve.sigma.values, curve.values, marker="o", color=c, label=f"{dim}={v}")
    _sigma_axis(a1, acc.sigma.values)
    a1.set_ylabel("test accuracy")
    a1.set_title(f"{dataset}: {layer}, probe {probe}")
    _legend(a1)
    s = score.isel({d: 0 for d in score.dims if d != dim})
    a2.plot(s[dim].values, s.values, marker="o", color="k")
    numeric = np.issubdtype(s[dim].dtype, np.number)
    if numeric and (s[dim].values > 0).all() and s[dim].values.max() / s[dim].values.min() > 10:
        a2.set_xscale("log")
    a2.set_ylim(-0.05, 1.05)
    a2.set_xlabel(dim)
    a2.set_ylabel("generalisation score")
    a2.set_title("share of generated samples that are not copies")
    return fig
