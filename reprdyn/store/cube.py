"""The metric cube: every variable the metrics (and the stages) declare, its dims and chunks, and
the NaN-filled cube a run allocates.

Each metric declares the variables it writes (`reprdyn.metrics`), and a stage those it writes of
its own (the paired comparisons); `VARIABLES` gathers them, live (a metric registered later is in
it), and a variable's chunks are its stage's (a task owns whole chunks, so no two tasks ever write
one chunk). `template` builds the cube of one dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..stages import ORDER, Stage, base
from ..stages.base import BOUNDS, PROBE_DIMS, Variable, model_dims

__all__ = ["VARIABLES", "CHUNK_OWNER", "COMPARISONS", "BOUNDS", "PROBE_DIMS", "Variable"]

if TYPE_CHECKING:  # building cubes needs xarray; reading the schema does not
    import xarray as xr


class _Live(Mapping):
    """A mapping recomputed from the registry at every use."""

    def __init__(self, make):
        self._make = make

    def __getitem__(self, k):
        return self._make()[k]

    def __iter__(self):
        return iter(self._make())

    def __len__(self):
        return len(self._make())


def _variables() -> dict[str, Variable]:
    """Every variable, in stage order: each stage's own, then its metrics' in registry order."""
    return {
        n: v
        for stage in ORDER
        for n, v in {
            **getattr(stage, "VARIABLES", {}),
            **base.metric_variables(stage.STAGE),
        }.items()
    }


VARIABLES: Mapping[str, Variable] = _Live(_variables)
CHUNK_OWNER: dict[Stage, dict[str, int]] = {stage.STAGE: stage.CHUNKS for stage in ORDER}
# the paired differences the summary and the report show with their intervals: (variable, what)
COMPARISONS: Mapping[str, str] = _Live(
    lambda: {n: v.comparison for n, v in _variables().items() if v.comparison}
)

# every coordinate of the metric, feature and data cubes: (CF long_name, units). sigma is in the
# units of the data, which every dataset scales to a declared range: so "1", like the shares
COORDS: dict[str, tuple[str, str]] = {
    "sigma": ("noise level sigma (standard deviation of the added noise)", "1"),
    "timestep": ("diffusion timestep of sigma under the model's VP schedule", "1"),
    "model": ("model name", "1"),
    "replicate": ("independently trained copy of the model", "1"),
    "layer": ("layer read, or a dense layer set", "1"),
    "label_noise": ("share of training labels flipped at random", "1"),
    "seed": ("seed of the probe's data split and label noise", "1"),
    "probe": ("probe", "1"),
    "input": ("input the features were read on (clean or noisy)", "1"),
    "class": ("class", "1"),
    "segment_class": ("mask class", "1"),
    "member": ("ensemble member", "1"),
    "sigma_ref": ("reference noise level sigma", "1"),
    "model_ref": ("reference model", "1"),
    "bound": ("interval bound", "1"),
    "boot": ("bootstrap resample", "1"),
    "sample": ("sample", "1"),
    "channel": ("feature channel", "1"),
    "label": ("class label of the sample", "1"),
    "split": ("split of the sample (train, val or test)", "1"),
}
# arrays of the data group besides the coordinates: (CF long_name, units)
DATA_VARS = {
    "U": ("orthonormal basis of each class subspace (MoLRG)", "1"),
    "features": ("pooled features", "1"),
}


def _metric_coords() -> dict:
    from .. import metrics

    return metrics.coords()


def settings(ds: xr.Dataset, name: str) -> dict:
    """A cube's `csnr` or `analysis` attribute: an object (stores before format 2: JSON text)."""
    import json

    value = ds.attrs.get(name, {})
    return json.loads(value) if isinstance(value, str) else dict(value)


def describe(ds: xr.Dataset) -> xr.Dataset:
    """Give every variable and coordinate its CF `long_name` and `units`, as declared here and by
    the stages (a variable's longer `description` rides along)."""
    for name in ds.variables:
        if name in VARIABLES:
            v = VARIABLES[name]
            long, units = v.long_name or name.replace("_", " "), v.units
            ds[name].attrs["description"] = v.description
        else:
            own = _metric_coords().get(name)
            long, units = (
                COORDS.get(name)
                or DATA_VARS.get(name)
                or (own and (own[1], "1"))
                or (name.replace("_", " "), "1")
            )
        ds[name].attrs.update(long_name=long, units=units)
    return ds


def grid_coords(spec) -> dict:
    """sigma (with timestep riding along where one VP schedule applies), the model names and the
    replicates."""
    c = {"sigma": spec.sigmas, "replicate": np.arange(spec.replicates)}
    if spec.timestep_coord is not None:
        c["timestep"] = ("sigma", spec.timestep_coord)
    if spec.multi_model:
        c["model"] = np.array([n for n, _ in spec.model_items()], dtype=object)
        c["model_ref"] = c["model"]  # the other side of a comparison between models
    return c


def wanted(spec) -> list[str]:
    """The variables a spec's metrics ask for and it can have, in declaration order."""
    return base.wanted(spec, _variables())


def chunks(spec) -> dict[str, dict[str, int]]:
    """Chunks aligned with tasks: each variable chunked by the dims its writing stage owns."""
    return {name: CHUNK_OWNER[VARIABLES[name].stage] for name in wanted(spec)}


def template(
    spec, classes: list[str], mask_classes: list[str] | None = None, data_range: float = 2.0
) -> xr.Dataset:
    """The NaN-filled metric cube of one dataset, with every dim kept, even single-valued ones;
    `layer` holds the pooled layers, then the dense sets."""
    import xarray as xr

    c = {
        **grid_coords(spec),
        "layer": np.array(spec.cube_layers, dtype=object),
        "label_noise": spec.label_noise,
        "seed": spec.seeds,
        "probe": np.array([p.label for p in spec.probes], dtype=object),
        "input": np.array(spec.inputs, dtype=object),
        "class": np.array(classes, dtype=object),
        "segment_class": np.array(mask_classes or [], dtype=object),
        "member": np.arange(spec.ensemble.size(len(spec.sigmas))),
        "sigma_ref": spec.sigmas,
        "bound": np.array(BOUNDS, dtype=object),
        "boot": np.arange(spec.bootstrap),
        **{d: np.array(values, dtype=object) for d, (values, _) in _metric_coords().items()},
    }
    size = {k: len(v) for k, v in c.items() if not isinstance(v, tuple)}
    data = {}
    for name in wanted(spec):
        v = VARIABLES[name]
        shape = [size[d] for d in v.dims_in(spec)]
        empty = np.zeros(shape, bool) if v.dtype == "bool" else np.full(shape, np.nan, v.dtype)
        data[name] = v.dims_in(spec), empty
    used = {d for dims, _ in data.values() for d in dims}
    ds = xr.Dataset(
        data, coords={k: c[k] for k in c if k in used or (k == "timestep" and "sigma" in used)}
    )
    describe(ds)
    for name in ds.data_vars:
        if name.endswith("_ci"):
            ds[name].attrs["confidence"] = spec.analysis.confidence
    ds.attrs["analysis"] = spec.analysis.model_dump(mode="json")  # tolerance, bootstrap, seed...
    from .. import metrics  # each metric's attributes on its variables (or the cube)

    for m in metrics.registry().values():
        if m.annotate is not None:
            m.annotate(ds, spec, {"data_range": data_range})
    return ds


CHUNK_BYTES = 8 << 20  # target size of one feature chunk


def sample_chunk(n_samples: int, channels: int, rows: int) -> int:
    """Samples per feature chunk: a multiple of `rows` (the forward block) near CHUNK_BYTES of
    float32."""
    per = max(rows, CHUNK_BYTES // (4 * channels) // rows * rows)
    return min(per, max(n_samples, 1))


def features_template(spec, data, channels: int, rows: int) -> tuple[xr.Dataset, dict]:
    """One layer's NaN-filled feature cube ([model,] sigma, input, sample, channel), with its
    chunks: one feature task writes every chunk of its (model, sigma)."""
    import xarray as xr

    dims = (*model_dims(spec), "sigma", "input", "sample", "channel")
    n = len(data.y)
    shape = (len(spec.model_items()),) * spec.multi_model + (
        spec.replicates,
        len(spec.sigmas),
        len(spec.inputs),
        n,
        channels,
    )
    coords = {
        **grid_coords(spec),
        "input": np.array(spec.inputs, dtype=object),
        "sample": np.arange(n),
        "label": ("sample", data.y),
        "split": ("sample", data.split),
    }
    tpl = xr.Dataset({"features": (dims, np.full(shape, np.nan, np.float32))}, coords=coords)
    return describe(tpl), {
        "features": {
            "model": 1,
            "replicate": 1,
            "sigma": 1,
            "input": 1,
            "sample": sample_chunk(n, channels, rows),
        }
    }


def labelled(spec, values: dict[str, np.ndarray], **coords) -> xr.Dataset:
    """A region of the cube: each named array, shaped as its variable's dims (leading model dim
    included), with the given coordinates."""
    return base.labelled(spec, VARIABLES, values, **coords)
