"""Stage `data`: store each sample's label and split, and allocate every metric and feature array
(arrays already there are kept, with what finished tasks wrote into them)."""

from __future__ import annotations

import numpy as np

from .base import NoParams, Stage, Task, base, key

STAGE = Stage.DATA
CHUNKS: dict[str, int] = {}
VARIABLES: dict = {}
Params = NoParams


def plan(spec, upstream) -> list[Task]:
    out = []
    for ds in spec.datasets:
        k = key(
            "data",
            *base(spec, ds),
            spec.model_dump(mode="json", include={"models", "model"}),
            spec.sigmas,
            spec.layers,
            spec.dense,
            [p.label for p in spec.probes],
            spec.inputs,
            spec.metrics,
            spec.analysis.bootstrap,
        )
        out.append(Task(STAGE, ds.name, NoParams(), k))
    return out


def run(task: Task, ctx, io) -> None:
    import xarray as xr

    from ..compute.extract import FORWARD_ROWS
    from ..models import layers

    spec, data = ctx.spec, ctx.data.get(task.dataset)
    coords = {
        "sample": np.arange(len(data.y)),
        "label": ("sample", data.y),
        "split": ("sample", data.split),
        "class": np.array(data.classes, dtype=object),
    }
    io.write_data(task.dataset, xr.Dataset(dict(data.extras), coords=coords, attrs=data.meta))
    io.allocate_metrics(spec, task.dataset, data)
    if spec.dense:
        layers.check(spec, ctx.models.layer_shapes(task.dataset))
    for layer, channels in (ctx.models.channels(task.dataset) if spec.pooled else {}).items():
        io.allocate_features(spec, task.dataset, data, layer, channels, FORWARD_ROWS)


def estimate(ctx, dataset: str) -> dict:
    """This stage's part of the preflight: the samples in memory, and each model's latents."""
    data = ctx.data.get(dataset)
    data_bytes = data.x.nbytes
    for name, _ in ctx.spec.model_items():
        x0 = ctx.models.inputs(name, dataset)
        if x0 is not data.x:
            data_bytes += x0.nbytes
    return {"data_bytes": data_bytes}
