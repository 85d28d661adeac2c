"""Analysis stages: posterior quality, feature distances across sigma, and generation for the generalisation score.

- `posterior_quality`: MSE / PSNR of the denoiser's estimate of x0 from x0 + sigma eps
  (the generation side of the generation-representation trade-off).
- `analysis_task`: per (model, layer, input), the sliced Wasserstein distance from
  each sigma's features to the features at the reference (best) sigma, and linear
  CKA between every pair of sigmas (docs/theory.md §6, Figure 7).
- `generate_task`: samples from a model with its sampler and scores them against its
  training set (appendix A.2).
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from . import store as st
from .context import Context, derive_seed, lead, model_sel
from .extract import FORWARD_ROWS, NoiseStream
from .metrics import cka_matrix, generalization_score, sliced_wasserstein
from .models import PRETRAINED
from .models.schedules import VPSchedule
from .plan import Task
from .sample import ddim_steps, edm_steps, generate


@torch.inference_mode()
def posterior_quality(net, x0: np.ndarray, sigma: float, noise: NoiseStream, rows: int = FORWARD_ROWS,
                      device: str = "cpu") -> tuple[float, float]:
    """(MSE per element, PSNR in dB) of D(x0 + sigma eps; sigma) against x0, over the rows of x0.

    The noisy input is formed in float64 and fed as float32; the estimate is read back in float64.
    """
    sq, count = 0.0, 0
    for start in range(0, len(x0), rows):  # the same aligned blocks as extraction
        xb = np.asarray(x0[start:start + rows], np.float64)  # (B, *shape)
        x = xb + sigma * noise(start, start + len(xb))
        out = net(torch.as_tensor(x, dtype=torch.float32, device=device), sigma).to("cpu", torch.float64).numpy()
        sq += float(np.square(out.reshape(xb.shape) - xb).sum())
        count += xb.size
    mse = sq / max(count, 1)
    peak = float(np.max(x0) - np.min(x0)) if len(x0) else float("nan")
    return mse, float(10 * np.log10(peak ** 2 / mse)) if mse > 0 else float("inf")


def _subset(n: int, max_samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 0x414E])  # "AN": the analysis subset stream
    return np.sort(rng.permutation(n)[:max_samples])


def reference_sigma(ctx: Context, dataset: str, model: str, layer: str, inp: str) -> int:
    """Index of the best sigma on validation for the first probe reading `layer` (lowest label noise,
    mean over seeds); the probes' own choice, never the test split."""
    spec = ctx.spec
    probe = next(p for p in spec.probes if layer in spec.probe_layers(p))
    val = st.open_group(ctx.path, st.group(dataset, "metrics"))["val_accuracy"]
    val = val.sel(layer=layer, input=inp, probe=probe.label, **({"model": model} if spec.multi_model else {}))
    curve = val.isel(label_noise=0).mean("seed").values  # (S,)
    return int(np.nanargmax(curve))


def analysis_task(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data(task.dataset)
    model, layer, inp = (task.param(k) for k in ("model", "layer", "input"))
    cfg = spec.analysis
    F = st.open_group(ctx.path, st.group(task.dataset, "features", layer))["features"]
    F = F.sel({"input": inp, **({"model": model} if spec.multi_model else {})})  # (S, N, C)
    test = np.flatnonzero(data.split == "test")
    rows = test[_subset(len(test), cfg.max_samples, cfg.seed)]
    X = [F.isel(sigma=s, sample=rows).values.astype(np.float64) for s in range(len(spec.sigmas))]  # S x (n, C)
    L = lead(spec)
    lead1 = (1,) * len(L)
    out = {}
    if "sw_distance" in spec.metrics:
        has_probe = any(layer in spec.probe_layers(p) for p in spec.probes)
        ref = reference_sigma(ctx, task.dataset, model, layer, inp) if has_probe else None
        sw = np.full(len(X), np.nan)
        if ref is not None:
            sw = np.array([sliced_wasserstein(Xs, X[ref], cfg.projections, cfg.seed) for Xs in X])
        out["sw_distance"] = ((*L, "sigma", "layer", "input"), sw.reshape(*lead1, -1, 1, 1))
        out["sw_reference"] = ((*L, "layer", "input"),
                               np.full((*lead1, 1, 1), spec.sigmas[ref] if ref is not None else np.nan))
    if "cka" in spec.metrics:
        out["cka"] = ((*L, "layer", "input", "sigma", "sigma_ref"), cka_matrix(X).reshape(*lead1, 1, 1, len(X), -1))
    coords = {"layer": [layer], "input": [inp], "sigma": spec.sigmas, "sigma_ref": spec.sigmas,
              **model_sel(spec, model)}
    st.write_region(ctx.path, st.group(task.dataset, "metrics"), xr.Dataset(out, coords=coords))


def sampler_for(net, cfg, steps: int, choice: str) -> tuple[np.ndarray, str]:
    """The model's sampling grid (VP: its schedule's timesteps; otherwise EDM's) and solver."""
    precond = getattr(cfg, "precond", None)
    if precond is not None and precond.kind == "vp":
        sigmas, auto = ddim_steps(VPSchedule.from_config(precond), steps), "ddim"
    elif precond is not None and precond.kind == "edm":
        sigmas, auto = edm_steps(steps, precond.sigma_min, precond.sigma_max, precond.rho), "heun"
    elif cfg.kind in PRETRAINED and hasattr(net, "schedule"):  # a pretrained VP model
        sigmas, auto = ddim_steps(net.schedule, steps), "ddim"
    else:
        sigmas, auto = edm_steps(steps), "heun"
    return sigmas, auto if choice == "auto" else choice


def generate_task(task: Task, ctx: Context) -> None:
    spec, gen_cfg = ctx.spec, ctx.spec.generation
    model = task.param("model")
    cfg = ctx.model_cfg(model)
    net = ctx.denoiser(model, task.dataset, 0)
    x_ref = ctx.inputs(model, task.dataset)
    if cfg.kind in ("diffusion", "dae"):
        train = ctx.train_data(cfg).x  # what the model saw
    else:
        train = x_ref[ctx.data(task.dataset).split == "train"]
    sigmas, sampler = sampler_for(net, cfg, gen_cfg.steps, gen_cfg.sampler)
    samples = generate(net, tuple(x_ref.shape[1:]), gen_cfg.samples, sigmas, sampler,
                       derive_seed(spec.seed, gen_cfg.seed, "generate", model), gen_cfg.batch_size, ctx.device)
    score = generalization_score(samples, train, gen_cfg.threshold)
    L = lead(spec)
    part = xr.Dataset({"generalization": (L, np.full((1,) * len(L), score))}, coords=model_sel(spec, model))
    st.write_region(ctx.path, st.group(task.dataset, "metrics"), part)
