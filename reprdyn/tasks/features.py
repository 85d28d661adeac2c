"""Stage `features`: every layer of one model at one sigma, streamed into the store, with CSNR and
the posterior's quality at that sigma.

One forward pass per block of samples serves every layer (docs/theory.md §6);
features go to the store a chunk at a time, and per-class second moments of the
train split accumulate on the way, so CSNR needs no second pass (§4).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
import zarr

from .. import cube, store
from ..caches import Context
from ..data import Data
from ..extract import FORWARD_ROWS, OUTPUT, NoiseStream, input_noise, iter_features
from ..metrics.csnr import (
    ClassMoments,
    csnr_from_moments,
    svd_bases,
    whiten,
    whitener,
    within_class,
)
from ..metrics.posterior import posterior_quality
from ..plan import Task
from ..seeds import derive_seed
from ..spec.kinds import PIXELS

log = logging.getLogger("reprdyn")
MOMENT_BUDGET = 2 << 30  # bytes of per-class second moments before CSNR of a layer is skipped


def run(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data.get(task.dataset)
    model, i, sigma = task.param("model"), task.param("sigma_index"), task.param("sigma")
    r = task.param("replicate")
    net = ctx.models.denoiser(model, task.dataset, i, r)
    x0 = ctx.models.inputs(model, task.dataset)
    K, n_layers, n_inputs = data.n_classes, len(spec.layers), len(spec.inputs)
    csnr_k, csnr_all = (
        np.full((n_layers, n_inputs, K), np.nan),
        np.full((n_layers, n_inputs), np.nan),
    )
    for j, inp in enumerate(spec.inputs):
        noise = input_noise(spec, task.dataset, model, sigma, x0.shape[1:], inp)
        moments = _extract_input(task, ctx, net, data, x0, noise, j)
        for li, layer in enumerate(spec.layers):
            if layer in moments:
                truth = _true_bases(ctx, data, layer, moments[layer].G.shape[-1])
                M = moments[layer].second_moment(spec.csnr.centre(truth is not None))
                if spec.csnr.whitened(truth is not None):  # docs/theory.md §4
                    M = whiten(M, whitener(within_class(moments[layer])))
                n = moments[layer].n
                bases = truth or svd_bases(M, spec.csnr.rank, spec.csnr.energy, n)
                csnr_all[li, j], csnr_k[li, j] = csnr_from_moments(M, n, bases)
            elif "csnr" in spec.metrics and layer != PIXELS:  # the baseline has no CSNR
                warnings.warn(
                    f"CSNR of layer {layer!r} skipped: per-class moments would exceed "
                    f"{MOMENT_BUDGET >> 30} GiB",
                    stacklevel=1,
                )
    where = {"sigma": [sigma], **cube.model_sel(spec, model, r)}
    lead = (None,) * (len(cube.model_dims(spec)) + 1)  # singleton model, replicate and sigma dims
    if "csnr" in spec.metrics:
        part = cube.labelled(spec, {"csnr": csnr_k[lead], "csnr_overall": csnr_all[lead]}, **where)
        store.write_region(ctx.path, store.group(task.dataset, "metrics"), part)
    if "posterior_mse" in spec.metrics:
        noise = NoiseStream(
            derive_seed(spec.seed, task.dataset, "posterior", model, repr(float(sigma))),
            x0.shape[1:],
        )
        test = x0[data.split == "test"]
        peak = float(data.meta.get("data_range", 2.0))
        mse, psnr = posterior_quality(net, test, sigma, noise, FORWARD_ROWS, ctx.device, peak)
        part = cube.labelled(
            spec,
            {
                "posterior_mse": np.full((1,) * len(lead), mse),
                "posterior_psnr": np.full((1,) * len(lead), psnr),
            },
            **where,
        )
        store.write_region(ctx.path, store.group(task.dataset, "metrics"), part)


def _extract_input(
    task: Task, ctx: Context, net, data: Data, x0: np.ndarray, noise: NoiseStream | None, j: int
) -> dict[str, ClassMoments]:
    """Stream input `j` (clean or noisy) of every layer into the store; on a device out-of-memory
    error, start again with half the samples per forward pass."""
    spec, model, i = ctx.spec, task.param("model"), task.param("sigma_index")
    mi = (
        (next(k for k, (n, _) in enumerate(spec.model_items()) if n == model),)
        if spec.multi_model
        else ()
    )
    mi += (task.param("replicate"),)
    arrays = {
        layer: zarr.open_array(
            f"{ctx.path}/{store.group(task.dataset, 'features', layer)}/features", mode="r+"
        )
        for layer in spec.hooked_layers
    }
    rows = FORWARD_ROWS
    while True:
        writers = {
            layer: store.RowWriter(a, (*mi, i, j), a.chunks[-2]) for layer, a in arrays.items()
        }
        try:
            return _stream(ctx, net, data, x0, task.param("sigma"), noise, rows, writers)
        except torch.OutOfMemoryError:
            if rows == 1:
                raise
            rows //= 2  # the noise of a sample stays; smaller passes can change float rounding
            log.warning(
                "%s: out of memory on %s; retrying with %d samples per forward pass (results can "
                "differ at float rounding from a run with %d)",
                task.label,
                ctx.device,
                rows,
                FORWARD_ROWS,
            )
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _stream(
    ctx: Context,
    net,
    data: Data,
    x0: np.ndarray,
    sigma: float,
    noise: NoiseStream | None,
    rows: int,
    writers: dict[str, store.RowWriter],
) -> dict[str, ClassMoments]:
    """Extract every layer block by block into the store; return per-class moments of the train
    split.

    `x0` is what the model denoises: the samples, or their latents.
    """
    spec, train, K = ctx.spec, data.split == "train", data.n_classes
    moments: dict[str, ClassMoments] = {}
    for start, stop, feats in iter_features(
        net,
        x0,
        sigma,
        spec.hooked_layers,
        noise=noise,
        draws=spec.noise_draws,
        rows=rows,
        device=ctx.device,
    ):
        m = train[start:stop]
        for layer, f in feats.items():
            writers[layer].add(start, f)  # (B, C), written a whole chunk at a time
            C = f.shape[1]
            if "csnr" in spec.metrics and K * C * C * 8 <= MOMENT_BUDGET:
                moments.setdefault(layer, ClassMoments(K, C)).update(f[m], data.y[start:stop][m])
    for w in writers.values():
        w.flush()
    return moments


def _true_bases(ctx: Context, data: Data, layer: str, width: int) -> list[np.ndarray] | None:
    """MoLRG's true U_k where they apply (`output` on molrg data, or basis `truth`), else None
    (per-class SVD bases; docs/theory.md §4)."""
    cfg = ctx.spec.csnr
    U = data.extras.get("U", (None, None))[1]
    true_ok = U is not None and width == U.shape[1]
    if cfg.basis == "truth" or (cfg.basis == "auto" and layer == OUTPUT and true_ok):
        if not true_ok:
            raise ValueError(
                "csnr.basis 'truth' needs the data-space output of a molrg dataset, not layer "
                f"{layer!r}"
            )
        return list(U)
    return None
