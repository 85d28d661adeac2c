"""Plot stage: publication-quality matplotlib figures read from a store, chosen by name from
`FIGURES`.

    curves            accuracy against sigma per layer, mean +- std over seeds, peak marked
    csnr              empirical CSNR against sigma per layer, with the closed form where stored
    label-noise       ensemble against the best single sigma at each label-noise level (Table 1)
    dae-vs-diffusion  accuracy and sliced Wasserstein distance against sigma, one line per model
    (Figure 7)
    generalization    accuracy curves per sweep value, and the generalisation score (appendix A.2)
    cka               linear CKA between every pair of sigmas (heatmaps per layer)
"""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from .store import Results, StoreError  # noqa: E402

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


class FigureError(StoreError):
    """The store lacks what a figure needs; the message says which metric or store to produce."""


def _need(ds: xr.Dataset, var: str, figure: str) -> xr.DataArray:
    if var not in ds:
        raise FigureError(
            f"figure {figure!r} needs the {var!r} variable; add "
            f"{_METRIC_OF.get(var, var)!r} to the spec's metrics and run it again"
        )
    return ds[var]


_METRIC_OF = {"csnr_overall": "csnr", "sw_distance": "sw_distance", "best_accuracy": "accuracy"}


def _with_model(da: xr.DataArray) -> xr.DataArray:
    return da if "model" in da.dims else da.expand_dims(model=[""])


def _panels(n: int, cols: int = 3):
    cols = min(cols, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(PANEL[0] * cols, PANEL[1] * rows),
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


def _series(da: xr.DataArray, keep: tuple[str, ...]):
    """(label, curve) for every combination of the dims not in `keep` whose values are not all
    NaN."""
    others = [d for d in da.dims if d not in keep]
    for combo in itertools.product(*(da[d].values for d in others)):
        curve = da.sel(dict(zip(others, combo)))
        if np.isfinite(curve.values).any():
            label = ", ".join(
                f"{v}" if d in ("layer", "model", "probe") else f"{d}={v}"
                for d, v in zip(others, combo)
                if len(da[d]) > 1 or d == "layer"
            )
            yield label, curve


def curves(res: Results, dataset: str) -> plt.Figure:
    acc = _with_model(_need(res[dataset], "accuracy", "curves")).isel(label_noise=0).load()
    probes = list(acc.probe.values)
    fig, axes = _panels(len(probes))
    for ax, probe in zip(axes, probes):
        a = acc.sel(probe=probe)
        mean, sd = a.mean("seed"), a.std("seed")
        for (label, m), (_, s) in zip(_series(mean, ("sigma",)), _series(sd, ("sigma",))):
            x, y, e = m.sigma.values, m.values, np.nan_to_num(s.values)
            (line,) = ax.plot(x, y, marker="o", label=label)
            ax.fill_between(x, y - e, y + e, color=line.get_color(), alpha=0.2, linewidth=0)
            i = int(np.nanargmax(y))
            ax.plot([x[i]], [y[i]], marker="*", markersize=9, color=line.get_color(), zorder=5)
        _sigma_axis(ax, acc.sigma.values)
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{dataset}: probe {probe}")
        ax.legend(frameon=False)
    fig.suptitle("accuracy across σ (mean ± std over seeds; ★ peak)", fontsize=9)
    return fig


def csnr(res: Results, dataset: str) -> plt.Figure:
    ds = res[dataset]
    emp = _with_model(_need(ds, "csnr_overall", "csnr")).load()
    fig, (ax,) = _panels(1)
    for label, c in _series(emp, ("sigma",)):
        ax.plot(c.sigma.values, c.values, marker="o", label=f"empirical {label}")
    if "csnr_theory" in ds:
        for label, th in _series(ds["csnr_theory"].load(), ("sigma",)):
            ax.plot(
                th.sigma.values,
                th.values,
                "--",
                color="k",
                alpha=0.7,
                label=f"closed form {label}".strip() + " (docs/theory.md §5)",
            )
    _sigma_axis(ax, emp.sigma.values)
    ax.set_yscale("log")
    ax.set_ylabel("CSNR")
    ax.set_title(f"{dataset}: class-specific SNR")
    ax.legend(frameon=False)
    return fig


def label_noise(res: Results, dataset: str) -> plt.Figure:
    ds = res[dataset]
    best = _with_model(_need(ds, "best_accuracy", "label-noise")).load()
    ens = _with_model(ds["ensemble_accuracy"]).load()
    groups = [
        (lab, b, e)
        for (lab, b), (_, e) in zip(
            _series(best, ("label_noise", "seed")), _series(ens, ("label_noise", "seed"))
        )
    ]
    fig, axes = _panels(len(groups))
    for ax, (label, b, e) in zip(axes, groups):
        p = b.label_noise.values
        x = np.arange(len(p))
        for shift, da, name in ((-0.2, b, "best single σ"), (0.2, e, "ensemble")):
            ax.bar(
                x + shift,
                da.mean("seed").values,
                0.4,
                yerr=np.nan_to_num(da.std("seed").values),
                capsize=2,
                label=name,
            )
        ax.set_xticks(x, [f"{v:g}" for v in p])
        ax.set_xlabel("label noise")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.18)
        ax.set_title(label)
        ax.legend(frameon=False, loc="upper center", ncol=2)
    fig.suptitle(f"{dataset}: soft-voting ensemble vs the best single σ (Table 1)", fontsize=9)
    return fig


def dae_vs_diffusion(res: Results, dataset: str) -> plt.Figure:
    ds = res[dataset]
    if "model" not in ds.dims or ds.sizes["model"] < 2:
        raise FigureError(
            "figure 'dae-vs-diffusion' compares models; it needs a spec with `models:` (such as "
            "specs/dae-vs-diffusion.yaml)"
        )
    acc = _need(ds, "accuracy", "dae-vs-diffusion").isel(label_noise=0).mean("seed").load()
    sw = _need(ds, "sw_distance", "dae-vs-diffusion").load()
    fig, (a1, a2) = _panels(2)
    first = {d: acc[d].values[0] for d in ("layer", "input")}
    probe = next(p for p in acc.probe.values if np.isfinite(acc.sel(probe=p, **first).values).any())
    for model in acc.model.values:
        a1.plot(
            acc.sigma.values,
            acc.sel(model=model, probe=probe, **first).values,
            marker="o",
            label=str(model),
        )
        a2.plot(sw.sigma.values, sw.sel(model=model, **first).values, marker="o", label=str(model))
    for ax, ylabel in ((a1, "test accuracy"), (a2, "sliced W₂ to the best σ")):
        _sigma_axis(ax, acc.sigma.values)
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False)
    a1.set_title(f"{dataset}: {first['layer']}, probe {probe}")
    a2.set_title("distance of the features to those at the best σ")
    return fig


def generalization(res: Results, dataset: str) -> plt.Figure:
    if not res.sweep_dims:
        raise FigureError(
            "figure 'generalization' needs a sweep store (a spec with `sweep:`, such as "
            "specs/memorization.yaml)"
        )
    ds = res[dataset]
    score = _need(ds, "generalization", "generalization").load()
    dim = res.sweep_dims[0]
    acc = _need(ds, "accuracy", "generalization").isel(label_noise=0).mean("seed").load()
    acc = _with_model(acc)
    first = {d: acc[d].values[0] for d in ("model", "input")}
    layer, probe = next(
        (lay, p)
        for lay in acc.layer.values
        for p in acc.probe.values
        if np.isfinite(acc.sel(layer=lay, probe=p, **first).values).any()
    )
    fig, (a1, a2) = _panels(2)
    values = acc[dim].values
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(values)))
    for c, v in zip(colours, values):
        curve = acc.sel({dim: v, "layer": layer, "probe": probe, **first})
        curve = curve.isel({d: 0 for d in curve.dims if d != "sigma"})
        a1.plot(curve.sigma.values, curve.values, marker="o", color=c, label=f"{dim}={v}")
    _sigma_axis(a1, acc.sigma.values)
    a1.set_ylabel("test accuracy")
    a1.set_title(f"{dataset}: {layer}, probe {probe}")
    a1.legend(frameon=False)
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


def cka(res: Results, dataset: str) -> plt.Figure:
    m = _with_model(_need(res[dataset], "cka", "cka")).load()
    first = {d: m[d].values[0] for d in ("model", "input")}
    layers = [lay for lay in m.layer.values if np.isfinite(m.sel(layer=lay, **first).values).any()]
    fig, axes = _panels(len(layers))
    ticks = [f"{s:.3g}" for s in m.sigma.values]
    for ax, layer in zip(axes, layers):
        im = ax.imshow(
            m.sel(layer=layer, **first).values, vmin=0, vmax=1, cmap="magma", origin="lower"
        )
        ax.set_xticks(range(len(ticks)), ticks, rotation=90)
        ax.set_yticks(range(len(ticks)), ticks)
        ax.set_xlabel("σ (reference)")
        ax.set_ylabel("σ")
        ax.grid(False)
        ax.set_title(f"{dataset}: {layer}")
    fig.colorbar(im, ax=axes, shrink=0.8, label="linear CKA")
    return fig


FIGURES = {
    "curves": curves,
    "csnr": csnr,
    "label-noise": label_noise,
    "dae-vs-diffusion": dae_vs_diffusion,
    "generalization": generalization,
    "cka": cka,
}


def figure(store: str | Path | Results, name: str, dataset: str | None = None) -> plt.Figure:
    """Build figure `name` from a store or its open Results (the first dataset unless one is
    named)."""
    try:
        fn = FIGURES[name]
    except KeyError:
        raise FigureError(
            f"unknown figure {name!r}; expected one of {', '.join(FIGURES)}"
        ) from None
    res = store if isinstance(store, Results) else Results(store)
    if not res.datasets:
        raise FigureError(f"{res.path}: the store holds no results yet; run its spec first")
    dataset = dataset or res.datasets[0]
    res._check(dataset)
    with plt.rc_context(STYLE):
        return fn(res, dataset)


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


def write(store: str | Path, name: str, out: str | Path, dataset: str | None = None) -> Path:
    """`reprdyn plot`: check the format, build figure `name` from the store, and write it to
    `out`."""
    _check_format(Path(out))
    return save(figure(store, name, dataset), out)
