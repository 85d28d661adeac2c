"""Stage `features`: every layer of one model replicate at one sigma, streamed into the store, and
the metrics of this stage at that sigma (CSNR, the posterior's quality).

One forward pass per block of samples serves every layer (docs/theory.md §6); features go to the
store a chunk at a time, and a metric that streams (`Metric.observe`) sees every block on the way,
so CSNR needs no second pass (§4).
"""

from __future__ import annotations

from .. import metrics
from ..spec.kinds import replicates
from .base import Cell, SigmaParams, Stage, Task, base, computed, key, labelled, model_sel
from .train import checkpoint_for

STAGE = Stage.FEATURES
Params = SigmaParams
CHUNKS = {"model": 1, "replicate": 1, "sigma": 1}
# What a features task hands its metrics: one model replicate at one sigma — its denoiser,
# what it reads, the data — and what each metric's observer saw of every input's stream
# (`observed[metric][j]`).
# Its fields: spec, dataset, params, data, net, x0, device, observed (a `base.Cell`).


def plan(spec, upstream) -> list[Task]:
    """One task per (dataset, model, replicate, sigma), after the data and the checkpoint."""
    asked = [m.name for m in metrics.at(spec, STAGE)]
    if not (spec.pooled and (spec.hooked_layers or asked)):
        return []
    return per_sigma(
        spec,
        upstream,
        STAGE,
        (spec.hooked_layers, spec.inputs, spec.noise_draws, asked, spec.csnr.model_dump()),
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
    from ..compute.extract import halving_on_oom, input_noise

    spec, data, p = ctx.spec, ctx.data.get(task.dataset), task.params
    net = ctx.models.denoiser(p.model, task.dataset, p.sigma_index, p.replicate)
    x0 = ctx.models.inputs(p.model, task.dataset)
    cell = Cell(spec=spec, dataset=task.dataset, params=p, data=data, net=net, x0=x0)
    cell.device, cell.observed = ctx.device, {}
    asked = metrics.at(spec, STAGE)
    for j, inp in enumerate(spec.inputs):
        noise = input_noise(spec, task.dataset, p.model, p.sigma, x0.shape[1:], inp)
        observers = halving_on_oom(
            lambda rows: _stream(task, ctx, io, cell, noise, j, rows, asked), task.label, ctx.device
        )
        for name, observer in observers.items():
            cell.observed.setdefault(name, []).append(observer)
    values = computed(spec, STAGE, cell)
    if values:
        where = {"sigma": [p.sigma], **model_sel(spec, p.model, p.replicate)}
        io.write(task.dataset, labelled(spec, STAGE, values, **where))


def _stream(task: Task, ctx, io, cell: Cell, noise, j: int, rows: int, asked) -> dict:
    """Extract input `j` of every layer block by block into the store, each block shown to the
    observers of the metrics that stream (`Metric.observe`); return those observers."""
    from ..compute.extract import Pass, iter_features

    spec, p = ctx.spec, task.params
    mi = tuple(n for n, _ in spec.model_items()).index(p.model) if spec.multi_model else None
    at = ((mi,) if mi is not None else ()) + (p.replicate, p.sigma_index, j)
    writers = {layer: io.rows(task.dataset, layer, at) for layer in spec.hooked_layers}
    observers = {m.name: m.observe(cell) for m in asked if m.observe is not None}
    how = Pass(p.sigma, noise, spec.noise_draws, rows, ctx.device)
    blocks = iter_features(cell.net, cell.x0, spec.hooked_layers, how)
    for start, stop, feats in blocks:
        for layer, f in feats.items():
            writers[layer].add(start, f)  # (B, C), written a whole chunk at a time
            for observer in observers.values():
                observer.update(layer, start, f)
    for w in writers.values():
        w.flush()
    return observers


def estimate(ctx, dataset: str) -> dict:
    """This stage's part of the preflight: the feature store (models x replicates x sigmas x inputs
    x samples x channels x 4 bytes, per layer), every model's weights, and one forward block's
    activations; checks every layer against every model on the way."""
    from ..compute.extract import activation_bytes
    from ..spec.kinds import FORWARD_ROWS

    spec, n = ctx.spec, len(ctx.data.get(dataset).y)
    widths = ctx.models.channels(dataset)  # also checks every layer against every model
    S, n_inputs, M, R = len(spec.sigmas), len(spec.inputs), len(spec.model_items()), spec.replicates
    store = sum(M * R * S * n_inputs * n * c * 4 for c in widths.values())
    weights, act = 0, 0
    for name, _ in spec.model_items():
        # the networks `channels` just measured: pretrained ones loaded, trained ones untrained
        # (same sizes)
        net, x2 = ctx.models.shape_net(name, dataset)
        encoder = ctx.models.encoder(name)
        for module in (net, encoder) if encoder is not None else (net,):
            weights += sum(p.numel() * p.element_size() for p in module.parameters())
        act = max(act, activation_bytes(net, x2, spec.sigmas[0]))
    return {
        "store_bytes": store,
        "weight_bytes": weights,
        "extract_bytes": act * min(FORWARD_ROWS, n),
    }
