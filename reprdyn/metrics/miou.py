"""Metric `miou`: segmentation probes on dense features of one model replicate at one sigma
(Figure 1b) — every dense set, segmentation probe and input — with lambda chosen on validation
images and test mIoU resampled over test images (the protocol is `reprdyn.probes.dense_protocol`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from .base import (
    MAX_SAMPLES,
    PROBE_DIMS,
    Figure,
    Metric,
    Settings,
    Stage,
    Table,
    Variable,
    with_uncertainty,
)

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr

    from ..read.summary.rows import SegmentationRow


class Segmentation(Settings):
    """How segmentation probes (seg-linear, seg-mlp) see the data: a few labelled images, pixels
    streamed, pixels sampled only for the MLP (docs/theory.md §7; Baranchuk et al. 2022)."""

    train_images: int | None = Field(
        None,
        gt=1,
        le=MAX_SAMPLES,
        description="labelled train images to fit on (a seeded subset; default all); "
        "val_fraction of them choose lambda",
    )
    test_images: int | None = Field(
        None, gt=0, le=MAX_SAMPLES, description="test images to score (default all)"
    )
    max_pixels: int = Field(
        50_000,
        gt=0,
        le=MAX_SAMPLES,
        description="pixels sampled from the training images for seg-mlp, in all",
    )
    class_balanced: bool = Field(True, description="sample each image's classes equally")
    seed: int = Field(0, description="seed of the image subsets and the pixel sampling")


VARIABLES = {
    **with_uncertainty(
        "miou",
        Variable(
            ("sigma", *PROBE_DIMS),
            "test mIoU of a segmentation probe on a dense layer set (lambda chosen on validation "
            "images)",
            long_name="test mIoU",
        ),
    ),
    "val_miou": Variable(
        ("sigma", *PROBE_DIMS),
        "mIoU on the validation images carved from train (noisy labels, as in training)",
        long_name="validation mIoU",
    ),
    "class_iou": Variable(
        ("sigma", *PROBE_DIMS, "segment_class"),
        "test IoU of each mask class (NaN where a class is neither in the truth nor predicted)",
        long_name="test IoU per mask class",
    ),
}


def compute(cell) -> dict:
    """Every segmentation probe on every dense set and input at the cell's sigma: arrays over
    (layer, T, probe, input[, class | boot | bound]), T the flat (label noise, seed) axis."""
    from ..compute.extract import halving_on_oom, input_noise
    from ..maths.segmentation import class_iou, mean_iou
    from ..maths.uncertainty import interval
    from ..probes.dense_protocol import (
        PixelLabels,
        Stream,
        fit_probes,
        image_sets,
        resampled_miou,
        scores,
    )
    from ..probes.protocol import bootstrap_counts

    task, ctx = cell.task, cell.ctx
    spec, data, p = ctx.spec, ctx.data.get(task.dataset), task.params
    net = ctx.models.denoiser(p.model, task.dataset, p.sigma_index, p.replicate)
    x0 = ctx.models.inputs(p.model, task.dataset)
    fit, val, test = image_sets(spec, task.dataset, data)
    probes = [q for q in spec.probes if q.dense]
    layers, names = spec.cube_layers, [q.label for q in spec.probes]
    T, M = len(spec.label_noise) * len(spec.seeds), len(data.mask_classes)
    shape = (len(layers), T, len(names), len(spec.inputs))  # (layer, T, probe, input)
    miou, val_miou = np.full(shape, np.nan), np.full(shape, np.nan)
    per_class = np.full((*shape, M), np.nan)
    B = spec.bootstrap
    W = bootstrap_counts(spec, task.dataset, "segment-test", len(test)) if B else None
    boot = np.full((*shape, B), np.nan)  # test images resampled, the same resamples everywhere
    labels = PixelLabels(spec, task.dataset, data)
    for j, inp in enumerate(spec.inputs):
        noise = input_noise(spec, task.dataset, p.model, p.sigma, x0.shape[1:], inp)

        def passes(rows, inp=inp, noise=noise):
            stream = Stream(ctx, net, x0, p.sigma, noise, data.masks.shape[1:], rows)
            fitted = fit_probes(task, ctx, stream, fit, labels, probes, inp)
            return fitted, scores(stream, fitted, val, test, labels, data, M)

        what = f"{task.label} input {inp}"
        fitted, (conf_val, conf_test) = halving_on_oom(passes, what, ctx.device, "images")
        for (set_name, label), (cv, ct) in zip(fitted, zip(conf_val, conf_test)):
            li, pi = layers.index(set_name), names.index(label)
            v = mean_iou(cv)  # (T, L): lambda (seg-linear) chosen on validation images alone
            pick = v.argmax(1)
            by_image = ct[:, np.arange(T), pick]  # (n_test, T, M, M) at the chosen lambda
            at = by_image.sum(0)  # (T, M, M) test confusions at the chosen lambda
            val_miou[li, :, pi, j] = v[np.arange(T), pick]
            per_class[li, :, pi, j] = class_iou(at)
            miou[li, :, pi, j] = mean_iou(at)
            if B:
                boot[li, :, pi, j] = resampled_miou(W, by_image)
    values = {"miou": miou, "val_miou": val_miou, "class_iou": per_class}
    if B:
        values["miou_boot"] = boot
        values["miou_ci"] = interval(boot, spec.analysis.confidence)
    return values


def _rules(spec):
    """miou goes with segmentation probes, and both need datasets with masks."""
    m = set(spec.metrics)
    seg = [p.label for p in spec.probes if p.dense]
    if seg and "miou" not in m:
        yield ("metrics",), f"segmentation probes {seg} report miou; add `miou` to metrics"
    if "miou" in m and not seg:
        yield (
            ("metrics",),
            (
                "miou needs a segmentation probe: add {kind: seg-linear} or {kind: seg-mlp} to "
                "`probes` (and layer sets under `dense:`)"
            ),
        )
    unmasked = [d.name for d in spec.datasets if not d.has_masks]
    if "miou" in m and unmasked:
        yield (
            ("metrics",),
            (
                f"miou needs per-pixel masks; datasets {unmasked} have none (glyphs has them; npz "
                "takes `masks:`, hf takes `mask_column:` or `mask_folder:`)"
            ),
        )


def default(raw: dict) -> bool:
    """By default where a probe segments."""
    from ..probes.kinds import dense_kinds

    probes = raw.get("probes") if isinstance(raw.get("probes"), list) else []
    return any(isinstance(p, dict) and p.get("kind") in dense_kinds() for p in probes)


# --- the summary's table and the figure ---------------------------------------------------


def _segmentation_rows(name: str, ds) -> list[SegmentationRow]:
    from ..maths.uncertainty import hierarchical
    from ..maths.unimodal import unimodality
    from ..read.summary.build import mode, reading
    from ..read.summary.rows import Interval, SegmentationRow

    r = reading(ds)
    low, confidence, hseed, tol = r.low, r.confidence, r.seed, r.tolerance
    rows = []
    for at, test in r.cells("miou", "sigma", "replicate", "seed"):  # (S, R, Sd)
        val = low["val_miou"].sel(**at).transpose("sigma", "replicate", "seed").values
        pick = np.nan_to_num(val, nan=-1).argmax(0)  # (R, Sd) per fit
        sigmas = test.sigma.values
        fitted = np.isfinite(test.values).any(0)  # (R, Sd)
        best, agree = mode(np.where(fitted, sigmas[pick], np.nan))
        R, Sd = pick.shape
        at_best = test.values[pick, np.arange(R)[:, None], np.arange(Sd)[None]]  # (R, Sd)
        value = Interval(float(np.nanmean(at_best)))
        if "miou_boot" in low:
            boot = low["miou_boot"].sel(**at).transpose("sigma", "replicate", "seed", "boot").values
            draws = boot[pick, np.arange(R)[:, None], np.arange(Sd)[None]]  # (R, Sd, B)
            value = Interval(value.value, *hierarchical(draws, confidence, hseed)[1:])
        curve = test.mean(("replicate", "seed"), skipna=True)
        u = unimodality(sigmas, curve.values, tol, r.flat)
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
                label_noise=r.level,
            )
        )
    return rows


def figure(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    """mIoU across sigma per segmentation probe: a colour per dense set (and model or sweep
    point), clean input solid, noisy dashed; the star marks sigma* chosen on validation mIoU."""
    import itertools

    from ..plot import style

    miou = style.lowest_of(ds, "miou", "segmentation")
    val = style.lowest_of(ds, "val_miou")
    boot = style.lowest_of(ds, "miou_boot")
    confidence, seed = style.settings(ds)
    probes = [p for p in miou.probe.values if np.isfinite(miou.sel(probe=p).values).any()]
    fig, axes = style.panels(len(probes), cols=2, panel=style.WIDE)
    for ax, probe in zip(axes, probes):
        mean = miou.sel(probe=probe).mean(style.fits(miou))
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
                label=style.label(shown),
            )
            colours[key] = line.get_color()
            if boot is not None:
                lo, hi = style.band(boot.sel(probe=probe, **at), confidence, seed)
                ax.fill_between(m.sigma.values, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
            v = val.sel(probe=probe, **at).transpose("sigma", ...)  # each fit's choice, the mode
            pick = style.mode(m.sigma.values[np.nan_to_num(v.values, nan=-1).argmax(0)].ravel())
            i = np.flatnonzero(np.isclose(m.sigma.values, pick))
            ax.plot(m.sigma.values[i], m.values[i], marker="*", markersize=9, color=colours[key])
        style.sigma_axis(ax, miou.sigma.values)
        ax.set_ylabel("test mIoU")
        ax.set_title(f"{dataset}: probe {probe}")
        style.legend(ax)
    fig.suptitle("segmentation across σ", fontsize=9)
    style.caption(
        fig,
        "Clean input solid, noisy dashed; "
        + (f"band: {confidence:.0%} interval; " if boot is not None else "")
        + "★ σ* chosen on validation mIoU.",
    )
    return fig


def _tables() -> tuple:
    from ..read.summary.rows import SEGMENTATION_COLUMNS

    return (
        Table(
            "segmentation",
            "miou",
            _segmentation_rows,
            SEGMENTATION_COLUMNS,
            title="segmentation at the lowest label noise: σ* is chosen on validation mIoU; "
            "mIoU@σ* is test mIoU (mean over replicates and seeds); the test-curve peak only "
            "describes the "
            "curve",
            layer="dense set",
            heading="Segmentation",
            note="σ* is chosen on validation mIoU; mIoU@σ* is test mIoU, its interval from "
            "resampling test images.",
        ),
    )


METRIC = Metric(
    name="miou",
    stage=Stage.SEGMENT,
    about="test mIoU of segmentation probes on dense layer sets at every sigma, with intervals",
    variables=VARIABLES,
    compute=compute,
    default=default,
    settings=("segmentation", Segmentation),
    rules=_rules,
    check_var="val_miou",
    figures=(
        Figure(
            "segmentation",
            "test mIoU against sigma, clean input solid, noisy dashed, with interval bands",
            figure,
            at_lowest_noise=True,
        ),
    ),
    tables=_tables,
    export={"miou": "miou_boot", "val_miou": None},
    order=100,
)
