"""Stage `segment`: segmentation probes on dense features of one model replicate at one sigma
(Figure 1b): every dense set, segmentation probe and input, with test mIoU resampled over test
images (the protocol is `reprdyn.probes.dense_protocol`)."""

from __future__ import annotations

import numpy as np

from ..spec.probes import SEGMENTATION_PROBES
from .base import (
    BOUNDS,
    PROBE_DIMS,
    SigmaParams,
    Stage,
    Task,
    Variable,
    labelled,
    model_dims,
    model_sel,
    with_uncertainty,
)
from .features import per_sigma

STAGE = Stage.SEGMENT
CHUNKS = {"model": 1, "replicate": 1, "sigma": 1}
Params = SigmaParams
VARIABLES = {
    **with_uncertainty(
        "miou",
        Variable(
            ("sigma", *PROBE_DIMS),
            STAGE,
            ("miou",),
            "test mIoU of a segmentation probe on a dense layer set (lambda chosen on validation "
            "images)",
            long_name="test mIoU",
        ),
    ),
    "val_miou": Variable(
        ("sigma", *PROBE_DIMS),
        STAGE,
        ("miou",),
        "mIoU on the validation images carved from train (noisy labels, as in training)",
        long_name="validation mIoU",
    ),
    "class_iou": Variable(
        ("sigma", *PROBE_DIMS, "segment_class"),
        STAGE,
        ("miou",),
        "test IoU of each mask class (NaN where a class is neither in the truth nor predicted)",
        long_name="test IoU per mask class",
    ),
}


def plan(spec, upstream) -> list[Task]:
    """One task per (dataset, model, replicate, sigma)."""
    if "miou" not in spec.metrics:
        return []
    protocol = (
        spec.dense,
        spec.inputs,
        spec.noise_draws,
        [p.model_dump(mode="json") for p in spec.probes if p.kind in SEGMENTATION_PROBES],
        spec.segmentation.model_dump(),
        spec.label_noise,
        spec.label_noise_kind,
        spec.seeds,
        spec.val_fraction,
        spec.analysis.bootstrap,
        spec.analysis.confidence,
        spec.analysis.seed,
    )
    return per_sigma(spec, upstream, STAGE, protocol)


def run(task: Task, ctx, io) -> None:
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

    spec, data, p = ctx.spec, ctx.data.get(task.dataset), task.params
    net = ctx.models.denoiser(p.model, task.dataset, p.sigma_index, p.replicate)
    x0 = ctx.models.inputs(p.model, task.dataset)
    fit, val, test = image_sets(spec, task.dataset, data)
    probes = [q for q in spec.probes if q.kind in SEGMENTATION_PROBES]
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
    io.write(task.dataset, _region(spec, p, data, values))


def _region(spec, p: SigmaParams, data, values: dict[str, np.ndarray]):
    """The whole (model, replicate, sigma) chunk of every segmentation variable: NaN outside the
    dense sets and the segmentation probes."""

    lead = (None,) * (len(model_dims(spec)) + 1)  # singleton model, replicate, sigma dims
    P, R = len(spec.label_noise), len(spec.seeds)
    region = {}
    for name, v in values.items():
        # (layer, T, probe, input[, class]) -> (layer, P, R, probe, input[, class])
        region[name] = v.reshape(v.shape[0], P, R, *v.shape[2:])[lead]
    coords = {
        "sigma": [p.sigma],
        "layer": spec.cube_layers,
        "label_noise": spec.label_noise,
        "seed": spec.seeds,
        "probe": [q.label for q in spec.probes],
        "input": spec.inputs,
        "segment_class": data.mask_classes,
        **model_sel(spec, p.model, p.replicate),
    }
    if spec.bootstrap:
        coords["bound"], coords["boot"] = list(BOUNDS), np.arange(spec.bootstrap)
    return labelled(spec, VARIABLES, region, **coords)
