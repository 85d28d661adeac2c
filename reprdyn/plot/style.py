"""What every figure shares: the style, panels, axes, legends, series and interval bands."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from ..errors import StoreError  # noqa: E402
from ..maths.uncertainty import curve_interval  # noqa: E402

FORMATS = (".png", ".svg", ".pdf")
STYLE = {
    "font.size": 8,
    "axes.labelsize": 9,
    "axes.titlesize": 9,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "lines.markersize": 3.5,
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
    "axes.grid": True,
    "grid.alpha": 0.25,
}
PANEL = (3.2, 2.4)  # inches per panel: two fit a column of a two-column paper
WIDE = (5.0, 2.8)  # a panel with its legend beside it
NAMED = ("layer", "model", "probe")  # dims whose values label a line by themselves


class FigureError(StoreError):
    """The store lacks what a figure needs; the message says which metric or store to produce."""


def need(ds: xr.Dataset, var: str, figure: str) -> xr.DataArray:
    if var not in ds:
        from .. import metrics

        owner = metrics.owner(var)
        raise FigureError(
            f"figure {figure!r} needs the {var!r} variable; add "
            f"{owner.name if owner else var!r} to the spec's metrics and run it again"
        )
    return ds[var]


def with_model(da: xr.DataArray) -> xr.DataArray:
    return da if "model" in da.dims else da.expand_dims(model=[""])


def panels(n: int, cols: int = 3, panel: tuple[float, float] = PANEL):
    cols = max(min(cols, n), 1)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(panel[0] * cols, panel[1] * rows),
        squeeze=False,
        constrained_layout=True,
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def sigma_axis(ax, sigma: np.ndarray) -> None:
    positive = sigma[sigma > 0]
    if len(positive) and (sigma <= 0).any():
        ax.set_xscale("symlog", linthresh=float(positive.min()))
    elif len(positive):
        ax.set_xscale("log")
    ax.set_xlabel("noise level σ")


def legend(ax) -> None:
    """The axes' legend outside it, on the right: it never covers a curve."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def figure_legend(fig, ax) -> None:
    """One legend for panels that share their series: a row above the panels."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(
            handles, labels, loc="outside upper center", ncols=min(len(labels), 6), frameon=False
        )


def label(combo: dict) -> str:
    return ", ".join(str(v) if d in NAMED else f"{d}={v}" for d, v in combo.items())


def series(da: xr.DataArray, keep: tuple[str, ...]):
    """(label, curve) for every combination of the dims not in `keep` whose values are not all NaN;
    a dim with one value is left out of the label unless it is the layer."""
    others = [d for d in da.dims if d not in keep]
    for combo in itertools.product(*(da[d].values for d in others)):
        curve = da.sel(dict(zip(others, combo)))
        if np.isfinite(curve.values).any():
            shown = {d: v for d, v in zip(others, combo) if len(da[d]) > 1 or d == "layer"}
            yield label(shown), curve


def mode(values: np.ndarray) -> float:
    """The most common finite value (lowest on ties): the summary's sigma*."""
    from ..read.summary.build import mode as with_share

    return with_share(values)[0]


def lowest(da: xr.DataArray) -> xr.DataArray:
    """The lowest label-noise level, chosen by value; the level stays as a coordinate."""
    return da.sel(label_noise=float(da.label_noise.min())) if "label_noise" in da.dims else da


def lowest_of(ds: xr.Dataset, var: str, figure: str | None = None) -> xr.DataArray | None:
    """`var` with a model dim, at the lowest label noise, loaded: what a figure draws. With
    `figure`, a missing `var` is an error naming that figure; without, it is None."""
    if var not in ds and figure is None:
        return None
    return lowest(with_model(need(ds, var, figure or var))).load()


def fits(da: xr.DataArray) -> tuple[str, ...]:
    """The dims a headline averages over: model replicates and seeds."""
    return tuple(d for d in ("replicate", "seed") if d in da.dims)


def settings(ds: xr.Dataset) -> tuple[float, int]:
    """(confidence, seed of the hierarchical bootstrap) the cube was made with."""
    from ..read.summary.build import reading

    r = reading(ds)
    return r.confidence, r.seed


def band(boot: xr.DataArray, confidence: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sigma, the hierarchical interval of the mean over replicates and seeds, from the
    resamples (sigma, [replicate, seed,] boot)."""
    vals = boot.transpose("sigma", "replicate", "seed", "boot").values  # (S, R, Sd, B)
    return curve_interval(vals, confidence, seed)


def caption(fig: plt.Figure, text: str) -> None:
    """What a figure's marks mean, in small type beneath its panels (the title stays short: what
    the figure is, and the selection it shows); wrapped to the figure's width when it is named."""
    fig._reprdyn_caption = text[:1].upper() + text[1:]


def sigma_heatmaps(ds: xr.Dataset, dataset: str, var: str, what: str) -> plt.Figure:
    """A similarity between every pair of sigmas (`var`, dims sigma x sigma_ref), a heatmap per
    layer, input, model and sweep point, on one colour scale from the data's minimum to 1."""
    m = with_model(need(ds, var, var)).mean("replicate").load()
    maps = list(series(m, ("sigma", "sigma_ref")))
    fig, axes = panels(len(maps))
    every = 2 if len(m.sigma) > 10 else 1  # every other tick on long grids, so labels stay legible
    ticks = [f"{s:.3g}" if i % every == 0 else "" for i, s in enumerate(m.sigma.values)]
    lo = float(np.nanmin([np.nanmin(v.values) for _, v in maps]))
    vmin = min(np.floor(lo * 20) / 20, 0.95)  # the data's range, in steps of 0.05: contrast shows
    for ax, (label, v) in zip(axes, maps):
        im = ax.imshow(v.values, vmin=vmin, vmax=1, cmap="magma", origin="lower")
        ax.set_xticks(range(len(ticks)), ticks, rotation=90)
        ax.set_yticks(range(len(ticks)), ticks)
        ax.set_xlabel("σ (reference)")
        ax.set_ylabel("σ")
        ax.grid(False)
        ax.set_title(f"{dataset}: {label}")
    fig.colorbar(im, ax=axes, shrink=0.8, label=f"{what} (scale from {vmin:g})")
    return fig
