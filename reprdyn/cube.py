"""The metric cube's schema: which variables exist, their dims, which stage writes them, their
chunks.

This module is the one place a new metric variable is declared. `VARIABLES` names each variable's
dims (after the leading `model` dim of multi-model specs), the task stage that writes it (chunks
follow from that: a task owns whole chunks, so no two tasks ever write one chunk), the spec metrics
that ask for it, and its description. `template` builds the NaN-filled cube a run allocates;
`model_dims`, `model_sel` and `grid_coords` are the dims every stage shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .spec.kinds import PIXELS

if TYPE_CHECKING:  # building cubes needs xarray; reading the schema does not
    import xarray as xr

# one probe curve's dims, sigma aside
PROBE_DIMS = ("layer", "label_noise", "seed", "probe", "input")
BOUNDS = ("low", "high")  # the `bound` dim of every interval

# the dims each writing stage owns one chunk of (a dim a variable lacks is skipped)
CHUNK_OWNER = {
    "probe": {"model": 1, "replicate": 1, "layer": 1, "probe": 1, "input": 1},
    "features": {"model": 1, "replicate": 1, "sigma": 1},
    "analysis": {"model": 1, "replicate": 1, "layer": 1, "input": 1},
    "segment": {"model": 1, "replicate": 1, "sigma": 1},
    "generate": {"model": 1, "replicate": 1},
    "compare": {},
    "theory": {},
}


def _always(spec) -> bool:
    return True


def _bootstrapped(spec) -> bool:
    return spec.bootstrap > 0


@dataclass(frozen=True)
class Variable:
    dims: tuple[str, ...]  # after the leading `model` and `replicate` dims
    stage: str  # the task stage that writes it: a key of CHUNK_OWNER
    metrics: tuple[str, ...]  # the spec metrics that ask for it (any of them)
    description: str
    per_model: bool = True  # False: a property of the data alone, with no model / replicate dims
    applies: Callable[[object], bool] = _always  # whether a spec that asks for it can have it
    units: str = "1"

    def dims_in(self, spec) -> tuple[str, ...]:
        """The variable's dims in a spec's cube."""
        return (*model_dims(spec), *self.dims) if self.per_model else self.dims


def _interval(of: str, what: str = "") -> Variable:
    """`of`'s percentile bootstrap interval: its dims plus `bound`."""
    v = VARIABLES[of]
    return Variable(
        (*v.dims, "bound"),
        v.stage,
        v.metrics,
        f"{what or of}: interval at analysis.confidence (attr), from the paired bootstrap over "
        "test samples and the validation choice (docs/theory.md §8)",
        applies=lambda spec, a=v.applies: a(spec) and _bootstrapped(spec),
    )


def _resamples(of: str) -> Variable:
    v = VARIABLES[of]
    return Variable(
        (*v.dims, "boot"),
        v.stage,
        v.metrics,
        f"{of} under each paired bootstrap resample (the same resampled samples in every cell, so "
        "differences between cells are paired)",
        applies=lambda spec, a=v.applies: a(spec) and _bootstrapped(spec),
    )


def _has_inputs(spec) -> bool:
    return {"clean", "noisy"} <= set(spec.inputs)


def _has_pixels(spec) -> bool:
    return PIXELS in spec.layers and len(spec.layers) > 1


def _has_dae(spec) -> bool:
    kinds = [cfg.kind for _, cfg in spec.model_items()]
    return "diffusion" in kinds and "dae" in kinds


ACCURACY = ("accuracy", "class_accuracy")
VARIABLES: dict[str, Variable] = {
    "accuracy": Variable(
        ("sigma", *PROBE_DIMS),
        "probe",
        ACCURACY,
        "test accuracy of the probe trained at each sigma",
    ),
    "val_accuracy": Variable(
        ("sigma", *PROBE_DIMS),
        "probe",
        ACCURACY,
        "accuracy on the validation split carved from train (used for selection)",
    ),
    "best_sigma": Variable(
        PROBE_DIMS, "probe", ACCURACY, "sigma with the highest validation accuracy", units="1"
    ),
    "best_accuracy": Variable(
        PROBE_DIMS,
        "probe",
        ACCURACY,
        "test accuracy of the single probe at best_sigma (the ensemble's baseline)",
    ),
    "ensemble_accuracy": Variable(
        PROBE_DIMS,
        "probe",
        ACCURACY,
        "test accuracy of soft voting over the ensemble members (see the spec's ensemble)",
    ),
    "ensemble_gain": Variable(
        PROBE_DIMS,
        "probe",
        ACCURACY,
        "ensemble_accuracy - best_accuracy: what soft voting across sigmas adds (Table 1)",
    ),
    "ensemble_members": Variable(
        (*PROBE_DIMS, "member"), "probe", ACCURACY, "sigmas in the ensemble (NaN-padded)"
    ),
    "sigma_star_freq": Variable(
        ("sigma", *PROBE_DIMS),
        "probe",
        ACCURACY,
        "share of bootstrap resamples of the validation split whose choice of sigma* is this sigma",
        applies=_bootstrapped,
    ),
    "class_accuracy": Variable(
        ("sigma", *PROBE_DIMS, "class"), "probe", ("class_accuracy",), "per-class test accuracy"
    ),
    "csnr": Variable(
        ("sigma", "layer", "input", "class"),
        "features",
        ("csnr",),
        "empirical CSNR per class (docs/theory.md §4) on the train split; bases per the `csnr` "
        "attr",
    ),
    "csnr_overall": Variable(
        ("sigma", "layer", "input"),
        "features",
        ("csnr",),
        "empirical CSNR over all classes (ratio of means)",
    ),
    "csnr_theory": Variable(
        ("sigma",),
        "theory",
        ("csnr_theory",),
        "closed-form CSNR of the optimal posterior (docs/theory.md §5)",
        per_model=False,
    ),
    "peak_sigma": Variable(
        PROBE_DIMS,
        "probe",
        ("unimodality",),
        "sigma of the test accuracy curve's peak (describes the curve; best_sigma is chosen)",
    ),
    "rise": Variable(
        PROBE_DIMS, "probe", ("unimodality",), "accuracy at the peak minus at the lowest sigma"
    ),
    "fall": Variable(
        PROBE_DIMS, "probe", ("unimodality",), "accuracy at the peak minus at the highest sigma"
    ),
    "unimodal": Variable(
        PROBE_DIMS,
        "probe",
        ("unimodality",),
        "1 when the curve rises to an interior peak and falls, within the tolerance attribute, "
        "else 0",
    ),
    "unimodal_prob": Variable(
        PROBE_DIMS,
        "probe",
        ("unimodality",),
        "share of bootstrap resamples of the test split in which the accuracy curve is unimodal",
        applies=_bootstrapped,
    ),
    "posterior_mse": Variable(
        ("sigma",),
        "features",
        ("posterior_mse",),
        "mean squared error per element of `output` on x0 + sigma eps against the clean x0 (test "
        "split)",
    ),
    "posterior_psnr": Variable(
        ("sigma",),
        "features",
        ("posterior_mse",),
        "10 log10(data_range^2 / posterior_mse), data_range the dataset's declared range (attr; 2 "
        "for data in [-1, 1])",
    ),
    "sw_distance": Variable(
        ("sigma", "layer", "input"),
        "analysis",
        ("sw_distance",),
        "sliced Wasserstein distance between the features at sigma and at sw_reference (test "
        "subset)",
    ),
    "sw_reference": Variable(
        ("layer", "input"),
        "analysis",
        ("sw_distance",),
        "the best sigma on validation of the first probe reading the layer (lowest label noise)",
    ),
    "cka": Variable(
        ("layer", "input", "sigma", "sigma_ref"),
        "analysis",
        ("cka",),
        "linear CKA between the features at sigma and at sigma_ref (test subset)",
    ),
    "miou": Variable(
        ("sigma", *PROBE_DIMS),
        "segment",
        ("miou",),
        "test mIoU of a segmentation probe on a dense layer set (lambda chosen on validation "
        "images)",
    ),
    "val_miou": Variable(
        ("sigma", *PROBE_DIMS),
        "segment",
        ("miou",),
        "mIoU on the validation images carved from train (noisy labels, as in training)",
    ),
    "class_iou": Variable(
        ("sigma", *PROBE_DIMS, "segment_class"),
        "segment",
        ("miou",),
        "test IoU of each mask class (NaN where a class is neither in the truth nor predicted)",
    ),
    "generalization": Variable(
        (),
        "generate",
        ("generalization",),
        "share of generated samples that are not near-copies of a training sample (d1/d2 >= "
        "threshold)",
    ),
    "sample_distance_ratio": Variable(
        (),
        "generate",
        ("generalization",),
        "median distance of generated samples to their nearest training sample over that of real "
        "held-out samples: near or below 1, samples lie among the data; above 2, the model has not "
        "learned it and `generalization` is not meaningful",
    ),
    "clean_minus_noisy": Variable(
        ("layer", "label_noise", "seed", "probe"),
        "compare",
        ACCURACY,
        "best_accuracy with clean input minus with noisy input (Figure 1), paired",
        applies=_has_inputs,
    ),
    "features_minus_pixels": Variable(
        PROBE_DIMS,
        "compare",
        ACCURACY,
        "best_accuracy of the layer minus that of the raw-input baseline `pixels`, paired",
        applies=_has_pixels,
    ),
    "diffusion_minus_dae": Variable(
        PROBE_DIMS,
        "compare",
        ACCURACY,
        "at a DAE model: best_accuracy of the (first) diffusion model minus this DAE's (Figure 7), "
        "paired; NaN at other models",
        applies=_has_dae,
    ),
}
# every headline and every difference has its resamples and its interval beside it
for _name in (
    "accuracy",
    "best_accuracy",
    "ensemble_accuracy",
    "ensemble_gain",
    "miou",
    "clean_minus_noisy",
    "features_minus_pixels",
    "diffusion_minus_dae",
):
    VARIABLES[f"{_name}_boot"] = _resamples(_name)
    VARIABLES[f"{_name}_ci"] = _interval(_name)

# the differences the summary and the report show with their intervals: (variable, what)
COMPARISONS = {
    "ensemble_gain": "ensemble − best single σ",
    "clean_minus_noisy": "clean − noisy input",
    "features_minus_pixels": "features − raw pixels",
    "diffusion_minus_dae": "diffusion − DAE",
}


def model_dims(spec) -> tuple[str, ...]:
    """The dims of everything that depends on the model: ('model',) when the spec compares several
    models, then always ('replicate',) (one per independently trained copy; 1 for the rest)."""
    return ("model",) * spec.multi_model + ("replicate",)


def model_sel(spec, model: str, replicate: int | list[int]) -> dict:
    """The `model` and `replicate` coordinates of one model's region."""
    reps = list(replicate) if isinstance(replicate, (list, tuple, range)) else [replicate]
    return {**({"model": [model]} if spec.multi_model else {}), "replicate": reps}


def grid_coords(spec) -> dict:
    """sigma (with timestep riding along where one VP schedule applies), the model names and the
    replicates."""
    c = {"sigma": spec.sigmas, "replicate": np.arange(spec.replicates)}
    if spec.timestep_coord is not None:
        c["timestep"] = ("sigma", spec.timestep_coord)
    if spec.multi_model:
        c["model"] = np.array([n for n, _ in spec.model_items()], dtype=object)
    return c


def wanted(spec) -> list[str]:
    """The variables a spec's metrics ask for and it can have, in declaration order."""
    return [
        name
        for name, v in VARIABLES.items()
        if set(v.metrics) & set(spec.metrics) and v.applies(spec)
    ]


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
    }
    size = {k: len(v) for k, v in c.items() if not isinstance(v, tuple)}
    data = {}
    for name in wanted(spec):
        dims = VARIABLES[name].dims_in(spec)
        data[name] = dims, np.full([size[d] for d in dims], np.nan)
    used = {d for dims, _ in data.values() for d in dims}
    ds = xr.Dataset(
        data, coords={k: c[k] for k in c if k in used or (k == "timestep" and "sigma" in used)}
    )
    for name in ds.data_vars:
        ds[name].attrs["description"] = VARIABLES[name].description
        if name.endswith("_ci"):
            ds[name].attrs["confidence"] = spec.analysis.confidence
    ds.attrs["csnr"] = spec.csnr.model_dump_json()
    ds.attrs["analysis"] = spec.analysis.model_dump_json()  # tolerance, bootstrap, confidence, seed
    if "unimodal" in ds:
        ds["unimodal"].attrs["tolerance"] = spec.analysis.tolerance
    if "generalization" in ds:
        ds["generalization"].attrs["threshold"] = spec.generation.threshold
    if "posterior_psnr" in ds:
        ds["posterior_psnr"].attrs["data_range"] = data_range
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
    return tpl, {
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
    included), with the given coordinates; the dims of a region are those of the variables it
    holds."""
    import xarray as xr

    return xr.Dataset(
        {name: (VARIABLES[name].dims_in(spec), v) for name, v in values.items()}, coords=coords
    )
