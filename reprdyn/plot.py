"""Plot stage: publication-quality matplotlib figures read from a store, chosen by name (`FIGURES`).

    curves            accuracy against sigma, one line per layer (and sweep point), mean +- std over
                      seeds, the sigma chosen on validation marked
    csnr              empirical CSNR against sigma, with the closed form where stored
    label-noise       ensemble and best single sigma against label noise (Table 1), gain annotated
    dae-vs-diffusion  accuracy and sliced Wasserstein distance against sigma per model, one row per
                      layer (Figure 7)
    generalization    accuracy curves per sweep value, and the generalisation score (appendix A.2)
    cka               linear CKA between every pair of sigmas, one heatmap per layer and sweep point

Every figure takes a store of any shape: sweep dims and extra dims become more
lines or more panels, and `sel` ("layer=mid", "n_train=1024") narrows a store
down before drawing. Legends sit outside the axes, so they never cover data.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from .errors import StoreError  # noqa: E402
from .metrics.uncertainty import central_range, hierarchical  # noqa: E402
from .seeds import derive_seed  # noqa: E402
from .store import Results  # noqa: E402

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
WIDE = (5.0, 2.4)  # a panel with its legend beside it
NAMED = ("layer", "model", "probe")  # dims whose values label a line by themselves


class FigureError(StoreError):
    """The store lacks what a figure needs; the message says which metric or store to produce."""


_METRIC_OF = {"csnr_overall": "csnr", "sw_distance": "sw_distance", "best_accuracy": "accuracy"}


def _need(ds: xr.Dataset, var: str, figure: str) -> xr.DataArray:
    if var not in ds:
        raise FigureError(
            f"figure {figure!r} needs the {var!r} variable; add "
            f"{_METRIC_OF.get(var, var)!r} to the spec's metrics and run it again"
        )
    return ds[var]


def _with_model(da: xr.DataArray) -> xr.DataArray:
    return da if "model" in da.dims else da.expand_dims(model=[""])


def _panels(n: int, cols: int = 3, panel: tuple[float, float] = PANEL):
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


def _sigma_axis(ax, sigma: np.ndarray) -> None:
    positive = sigma[sigma > 0]
    if len(positive) and (sigma <= 0).any():
        ax.set_xscale("symlog", linthresh=float(positive.min()))
    elif len(positive):
        ax.set_xscale("log")
    ax.set_xlabel("noise level σ")


def _legend(ax) -> None:
    """The axes' legend outside it, on the right: it never covers a curve."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def _figure_legend(fig, ax) -> None:
    """One legend for panels that share their series: a row above the panels."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(
            handles, labels, loc="outside upper center", ncols=min(len(labels), 6), frameon=False
        )


def _label(combo: dict) -> str:
    return ", ".join(str(v) if d in NAMED else f"{d}={v}" for d, v in combo.items())


def _series(da: xr.DataArray, keep: tuple[str, ...]):
    """(label, curve) for every combination of the dims not in `keep` whose values are not all NaN;
    a dim with one value is left out of the label unless it is the layer."""
    others = [d for d in da.dims if d not in keep]
    for combo in itertools.product(*(da[d].values for d in others)):
        curve = da.sel(dict(zip(others, combo)))
        if np.isfinite(curve.values).any():
            shown = {d: v for d, v in zip(others, combo) if len(da[d]) > 1 or d == "layer"}
            yield _label(shown), curve


def _mode(values: np.ndarray) -> float:
    """The most common finite value (lowest on ties)."""
    vals, counts = np.unique(values[np.isfinite(values)], return_counts=True)
    return float(vals[np.argmax(counts)]) if len(vals) else float("nan")


# --- figures -------------------------------------------------------------------------------------


def _lowest(da: xr.DataArray) -> xr.DataArray:
    """The lowest label-noise level, chosen by value; the level stays as a coordinate."""
    return da.sel(label_noise=float(da.label_noise.min())) if "label_noise" in da.dims else da


def _fits(da: xr.DataArray) -> tuple[str, ...]:
    """The dims a headline averages over: model replicates and seeds."""
    return tuple(d for d in ("replicate", "seed") if d in da.dims)


def _settings(ds: xr.Dataset) -> tuple[float, int]:
    """(confidence, seed of the hierarchical bootstrap) the cube was made with."""
    from .summary import settings

    confidence, _, seed, _ = settings(ds)
    return confidence, derive_seed(seed, "hierarchical")


def _band(boot: xr.DataArray, confidence: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sigma, the hierarchical interval of the mean over replicates and seeds, from the
    resamples (sigma, [replicate, seed,] boot)."""
    vals = boot.transpose("sigma", "replicate", "seed", "boot").values  # (S, R, Sd, B)
    bounds = np.array([hierarchical(v, confidence, seed)[1:] for v in vals])  # (S, 2)
    return bounds[:, 0], bounds[:, 1]


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
                        x[i], below, xerr=xerr, fmt="none", ecolor=line.get_color(), elinewidth=1,
                        capsize=3, zorder=4,
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
    fig.suptitle(f"accuracy across σ ({band}{spread})", fontsize=9)
    return fig


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
            bounds = 100 * np.array([hierarchical(c, confidence, seed)[1:] for c in cell])
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
    fig.suptitle(
        f"{dataset}: gain of the soft-voting ensemble over the best single σ (Table 1; bars: "
        f"{bars})",
        fontsize=9,
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
    fig.suptitle(
        "segmentation across σ (clean input solid, noisy dashed; "
        + (f"band: {confidence:.0%} interval; " if boot is not None else "")
        + "★ σ* chosen on validation mIoU)",
        fontsize=9,
    )
    return fig


FIGURES = {
    "curves": curves,
    "csnr": csnr,
    "label-noise": label_noise,
    "dae-vs-diffusion": dae_vs_diffusion,
    "generalization": generalization,
    "cka": cka,
    "segmentation": segmentation,
}


def select(ds: xr.Dataset, sel: list[str] | tuple[str, ...]) -> xr.Dataset:
    """`ds` narrowed by DIM=VALUE items (the nearest grid value on float dims); dims are kept."""
    from .query import parse_sel

    for dim, raw in parse_sel(list(sel)):
        if dim not in ds.dims:
            raise FigureError(
                f"--sel {dim}={raw}: the store has no dim {dim!r}; its dims are "
                f"{', '.join(ds.dims)}"
            )
        coord = ds[dim]
        if coord.dtype.kind == "f":
            ds = ds.sel({dim: [float(raw)]}, method="nearest")
        elif coord.dtype.kind in "iu":
            ds = ds.sel({dim: [int(float(raw))]})
        elif raw in [str(v) for v in coord.values]:
            ds = ds.sel({dim: [raw]})
        else:
            raise FigureError(
                f"--sel {dim}={raw}: no such {dim}; expected one of "
                f"{[str(v) for v in coord.values]}"
            )
    return ds


def figure(
    store: str | Path | Results, name: str, dataset: str | None = None, sel: tuple[str, ...] = ()
) -> plt.Figure:
    """Build figure `name` from a store or its open Results (the first dataset unless one is named),
    after narrowing the store with `sel` items such as "layer=mid"."""
    if name not in FIGURES:
        raise FigureError(f"unknown figure {name!r}; expected one of {', '.join(FIGURES)}")
    res = store if isinstance(store, Results) else Results(store)
    if not res.datasets:
        raise FigureError(f"{res.path}: the store holds no results yet; run its spec first")
    dataset = dataset or res.datasets[0]
    res._check(dataset)
    ds = select(res[dataset], sel)
    with plt.rc_context(STYLE):
        fig = FIGURES[name](ds, dataset, res.sweep_dims)
        _name_selection(fig, ds, sel, name in AT_LOWEST_NOISE)
        return fig


AT_LOWEST_NOISE = ("curves", "dae-vs-diffusion", "generalization", "segmentation")


def _name_selection(fig: plt.Figure, ds: xr.Dataset, sel, lowest: bool) -> None:
    """Add what the figure shows to its title: the label-noise level it reads, the --sel items and
    the replicates averaged."""
    parts = []
    if lowest and "label_noise" in ds.dims:
        parts.append(f"label noise {float(ds.label_noise.min()):g}")
    parts += [str(item) for item in sel]
    if "replicate" in ds.dims and ds.sizes["replicate"] > 1:
        parts.append(f"mean of {ds.sizes['replicate']} replicates")
    text = "selection: " + ", ".join(parts) if parts else ""
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    if text:
        fig.suptitle(f"{title}\n{text}" if title else text, fontsize=9)


def _check_format(out: Path) -> None:
    if out.suffix.lower() not in FORMATS:
        raise FigureError(
            f"{out}: unknown figure format {out.suffix!r}; expected one of {', '.join(FORMATS)}"
        )


def save(fig: plt.Figure, out: str | Path) -> Path:
    """Write a figure as .png (300 dpi), .svg or .pdf, chosen by the file's suffix."""
    out = Path(out)
    _check_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        fig.savefig(out)
    plt.close(fig)
    return out


def write(
    store: str | Path,
    name: str,
    out: str | Path,
    dataset: str | None = None,
    sel: tuple[str, ...] = (),
) -> Path:
    """`reprdyn plot`: check the format, build figure `name` from the store, write it to `out`."""
    _check_format(Path(out))
    return save(figure(store, name, dataset, sel), out)
