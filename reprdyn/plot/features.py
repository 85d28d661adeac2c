"""Figures of features and pixels: CSNR, CKA and segmentation mIoU across sigma."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from .style import (
    WIDE,
    _band,
    _fits,
    _label,
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


def csnr(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    emp = _with_model(_need(ds, "csnr_overall", "csnr")).mean("replicate").load()
    fig, (ax,) = _panels(1, panel=(WIDE[0] + 0.6, 2.8))
    for label, c in _series(emp, ("sigma",)):
        ax.plot(c.sigma.values, c.values, marker="o", label=f"empirical {label}".strip())
    if "csnr_theory" in ds:
        shown: list[
            np.ndarray
        ] = []  # one closed-form line per distinct curve (sweep points share it)
        for label, th in _series(ds["csnr_theory"].load(), ("sigma",)):
            if any(np.allclose(th.values, s, equal_nan=True) for s in shown):
                continue
            shown.append(th.values)
            name = "closed form (docs/theory.md §5)" + (f" {label}" if label else "")
            ax.plot(
                th.sigma.values,
                th.values,
                "--",
                color="k",
                alpha=0.7 - 0.15 * (len(shown) - 1),
                label=name,
            )
    _sigma_axis(ax, emp.sigma.values)
    ax.set_yscale("log")
    ax.set_ylabel("CSNR")
    ax.set_title(f"{dataset}: class-specific SNR")
    _legend(ax)
    return fig


def cka(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    m = _with_model(_need(ds, "cka", "cka")).mean("replicate").load()
    maps = list(_series(m, ("sigma", "sigma_ref")))
    fig, axes = _panels(len(maps))
    every = 2 if len(m.sigma) > 10 else 1  # every other tick on long grids, so labels stay legible
    ticks = [f"{s:.3g}" if i % every == 0 else "" for i, s in enumerate(m.sigma.values)]
    lo = float(np.nanmin([np.nanmin(v.values) for _, v in maps]))
    vmin = min(
        np.floor(lo * 20) / 20, 0.95
    )  # the data's range, in steps of 0.05, so contrast shows
    for ax, (label, v) in zip(axes, maps):
        im = ax.imshow(v.values, vmin=vmin, vmax=1, cmap="magma", origin="lower")
        ax.set_xticks(range(len(ticks)), ticks, rotation=90)
        ax.set_yticks(range(len(ticks)), ticks)
        ax.set_xlabel("σ (reference)")
        ax.set_ylabel("σ")
        ax.grid(False)
        ax.set_title(f"{dataset}: {label}")
    fig.colorbar(im, ax=axes, shrink=0.8, label=f"linear CKA (scale from {vmin:g})")
    return fig


def segmentation(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    """mIoU across sigma per segmentation probe: a colour per dense set (and model or sweep
    point), clean input solid, noisy dashed; the star marks sigma* chosen on validation mIoU."""
    miou = _lowest(_with_model(_need(ds, "miou", "segmentation"))).load()
    val = _lowest(_with_model(ds["val_miou"])).load()
    boot = _lowest(_with_model(ds["miou_boot"])).load() if "miou_boot" in ds else None
    confidence, seed = _settings(ds)
    probes = [p for p in miou.probe.values if np.isfinite(miou.sel(probe=p).values).any()]
    fig, axes = _panels(len(probes), cols=2, panel=WIDE)
    for ax, probe in zip(axes, probes):
        mean = miou.sel(probe=probe).mean(_fits(miou))
        others = [d for d in mean.dims if d != "sigma"]
        colours: dict[tuple, str] = {}
        for combo in itertools.product(*(mean[d].values for d in others)):
            at = dict(zip(others, combo))
            m = mean.sel(at)
            if not np.isfinite(m.values).any():
                continue
            shown = {d: v for d, v in at.items() if len(mean[d]) > 1 or d == "layer"}
            key = tuple(v for d, v in at.items() if d != "input")  # one colour per dense set
            (line,) = ax.plot(
                m.sigma.values,
                m.values,
                "--" if at.get("input") == "noisy" else "-",
                marker="o",
                color=colours.get(key),
                label=_label(shown),
            )
            colours[key] = line.get_color()
            if boot is not None:
                lo, hi = _band(boot.sel(probe=probe, **at), confidence, seed)
                ax.fill_between(m.sigma.values, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
            v = val.sel(probe=probe, **at).transpose("sigma", ...)  # each fit's choice, the mode
            pick = _mode(m.sigma.values[np.nan_to_num(v.values, nan=-1).argmax(0)].ravel())
            i = np.flatnonzero(np.isclose(m.sigma.values, pick))
            ax.plot(m.sigma.values[i], m.values[i], marker="*", markersize=9, color=colours[key])
        _sigma_axis(ax, miou.sigma.values)
        ax.set_ylabel("test mIoU")
        ax.set_title(f"{dataset}: probe {probe}")
        _legend(ax)
    fig.suptitle("segmentation across σ", fontsize=9)
    caption(
        fig,
        "Clean input solid, noisy dashed; "
        + (f"band: {confidence:.0%} interval; " if boot is not None else "")
        + "★ σ* chosen on validation mIoU.",
    )
    return fig
