"""Stage `data`: store each sample's label and split, and allocate every metric and feature
array."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import cube, store
from ..caches import Context, check_dense
from ..extract import FORWARD_ROWS
from ..plan import Task


def run(task: Task, ctx: Context) -> None:
    spec, data = ctx.spec, ctx.data.get(task.dataset)
    coords = {
        "sample": np.arange(len(data.y)),
        "label": ("sample", data.y),
        "split": ("sample", data.split),
        "class": np.array(data.classes, dtype=object),
    }
    xr.Dataset(dict(data.extras), coords=coords, attrs=data.meta).to_zarr(
        ctx.path, group=store.group(task.dataset, "data"), mode="w", consolidated=False
    )
    store.allocate(
        ctx.path,
        store.group(task.dataset, "metrics"),
        cube.template(spec, data.classes, data.mask_classes, data.meta.get("data_range", 2.0)),
        cube.chunks(spec),
    )
    if spec.dense:
        check_dense(spec, ctx.models.layer_shapes(task.dataset))
    for layer, channels in (ctx.models.channels(task.dataset) if spec.pooled else {}).items():
        template, chunks = cube.features_template(spec, data, channels, FORWARD_ROWS)
        store.allocate(ctx.path, store.group(task.dataset, "features", layer), template, chunks)
