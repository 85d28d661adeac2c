"""Stage `features`: every layer of one model replicate at one sigma, streamed into the store, with
CSNR and the posterior's quality at that sigma.

One forward pass per block of samples serves every layer (docs/theory.md §6); features go to the
store a chunk at a time, and per-class second moments of the train split accumulate on the way, so
CSNR needs no second pass (§4).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..spec.kinds import OUTPUT, PIXELS, replicates
from .base import SigmaParams, Stage, Task, Variable, base, key, labelled, model_dims, model_sel
from .train import checkpoint_for

STAGE = Stage.FEATURES
Params = SigmaParams
CHUNKS = {"model": 1, "replicate": 1, "sigma": 1}
MOMENT_BUDGET = 2 << 30  # bytes of per-class second moments before CSNR of a layer is skipped
VARIABLES = {
    "csnr": Variable(
        ("sigma", "layer", "input", "class"),
        STAGE,
        ("csnr",),
        "empirical CSNR per class (docs/theory.md §4) on the train split; bases per the `csnr` "
        "attr",
        long_name="class-specific SNR",
    ),
    "csnr_overall": Variable(
        ("sigma", "layer", "input"),
        STAGE,
        ("csnr",),
        "empirical CSNR over all classes (ratio of means)",
        long_name="class-specific SNR, all classes",
    ),
    "posterior_mse": Variable(
        ("sigma",),
        STAGE,
        ("posterior_mse",),
        "mean squared error per element of `output` on x0 + sigma eps against the clean x0 (test "
        "split)",
        long_name="posterior mean squared error",
    ),
    "posterior_psnr": Variable(
        ("sigma",),
        STAGE,
        ("posterior_mse",),
        "10 log10(data_range^2 / posterior_mse), data_range the dataset's declared range (attr; 2 "
        "for data in [-1, 1])",
        units="dB",
        long_name="posterior PSNR",
    ),
}


def plan(spec, upstream) -> list[Task]:
    """One task per (dataset, model, replicate, sigma), after the data and the checkpoint."""
    if not (spec.pooled and (spec.hooked_layers or "posterior_mse" in spec.metrics)):
        return []
    return per_sigma(
        spec,
        upstream,
        STAGE,
        (spec.hooked_layers, spec.inputs, spec.noise_draws, spec.csnr.model_dump()),
    )


def per_sigma(spec, upstream, stage: Stage, protocol) -> list[Task]:
    """One `stage` task per (dataset, model, replicate, sigma), after the dataset's data task and
    the checkpoint that serves it."""
    out = []
    for ds in spec.datasets:
        (data,) = upstream.of(Stage.DATA, ds.name)
        for name, cfg in spec.model_items():
            model = cfg.model_dump(mode="json")
            for r in range(replicates(cfg)):
                for i, s in enumerate(spec.sigmas):
                    dep = checkpoint_for(upstream, name, r, i)
                    k = key(
                        stage.value,
                        *base(spec, ds),
                        model,
                        r,
                        s,
                        protocol,
                        dep.key if dep else None,
                    )
                    deps = (data.key,) + ((dep.key,) if dep else ())
                    out.append(Task(stage, ds.name, SigmaParams(name, r, i, s), k, deps))
    return out


def run(task: Task, ctx, io) -> None:
    from ..compute.extract import FORWARD_ROWS, NoiseStream, halving_on_oom, input_noise
    from ..maths.csnr import csnr_of
    from ..maths.posterior import posterior_quality
    from ..seeds import derive_seed

    spec, data, p = ctx.spec, ctx.data.get(task.dataset), task.params
    net = ctx.models.denoiser(p.model, task.dataset, p.sigma_index, p.replicate)
    x0 = ctx.models.inputs(p.model, task.dataset)
    K, n_layers, n_inputs = data.n_classes, len(spec.layers), len(spec.inputs)
    csnr_k, csnr_all = (
        np.full((n_layers, n_inputs, K), np.nan),
        np.full((n_layers, n_inputs), np.nan),
    )
    for j, inp in enumerate(spec.inputs):
        noise = input_noise(spec, task.dataset, p.model, p.sigma, x0.shape[1:], inp)
        moments = halving_on_oom(
            lambda rows: _stream(task, ctx, io, net, x0, noise, j, rows), task.label, ctx.device
        )
        for li, layer in enumerate(spec.layers):
            if layer in moments:
                truth = _true_bases(spec, data, layer, moments[layer].G.shape[-1])
                csnr_all[li, j], csnr_k[li, j] = csnr_of(moments[layer], spec.csnr, truth)
            elif "csnr" in spec.metrics and layer != PIXELS:  # the baseline has no CSNR
                warnings.warn(
                    f"CSNR of layer {layer!r} skipped: per-class moments would exceed "
                    f"{MOMENT_BUDGET >> 30} GiB",
                    stacklevel=1,
                )
    where = {"sigma": [p.sigma], **model_sel(spec, p.model, p.replicate)}
    lead = (None,) * (len(model_dims(spec)) + 1)  # singleton model, replicate and sigma dims
    if "csnr" in spec.metrics:
        values = {"csnr": csnr_k[lead], "csnr_overall": csnr_all[lead]}
        io.write(task.dataset, labelled(spec, VARIABLES, values, **where))
    if "posterior_mse" in spec.metrics:
        seed = derive_seed(spec.seed, task.dataset, "posterior", p.model, repr(float(p.sigma)))
        test = x0[data.split == "test"]
        peak = float(data.meta.get("data_range", 2.0))
        mse, psnr = posterior_quality(
            net, test, p.sigma, NoiseStream(seed, x0.shape[1:]), FORWARD_ROWS, ctx.device, peak
        )
        one = (1,) * len(lead)
        values = {"posterior_mse": np.full(one, mse), "posterior_psnr": np.full(one, psnr)}
        io.write(task.dataset, labelled(spec, VARIABLES, values, **where))


def _stream(task: Task, ctx, io, net, x0: np.ndarray, noise, j: int, rows: int) -> dict:
    """Extract input `j` of every layer block by block into the store; return the per-class
    moments of the train split (`x0` is what the model denoises: the samples, or their
    latents)."""
    from ..compute.extract import iter_features
    from ..maths.csnr import ClassMoments

    spec, data, p = ctx.spec, ctx.data.get(task.dataset), task.params
    mi = tuple(n for n, _ in spec.model_items()).index(p.model) if spec.multi_model else None
    at = ((mi,) if mi is not None else ()) + (p.replicate, p.sigma_index, j)
    writers = {layer: io.rows(task.dataset, layer, at) for layer in spec.hooked_layers}
    train, K = data.split == "train", data.n_classes
    moments: dict = {}
    blocks = iter_features(
        net, x0, p.sigma, spec.hooked_layers, noise=noise, draws=spec.noise_draws, rows=rows,
        device=ctx.device,
    )  # fmt: skip
    for start, stop, feats in blocks:
        m = train[start:stop]
        for layer, f in feats.items():
            writers[layer].add(start, f)  # (B, C), written a whole chunk at a time
            C = f.shape[1]
            if "csnr" in spec.metrics and K * C * C * 8 <= MOMENT_BUDGET:
                moments.setdefault(layer, ClassMoments(K, C)).update(f[m], data.y[start:stop][m])
    for w in writers.values():
        w.flush()
    return moments


def _true_bases(spec, data, layer: str, width: int) -> list | None:
    """MoLRG's true U_k where they apply (`output` on molrg data, or basis `truth`), else None
    (per-class SVD bases; docs/theory.md §4)."""
    cfg = spec.csnr
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
