"""Metric `posterior_mse`: how well the model denoises at each sigma — the mean squared error of
its `output` on x0 + sigma eps against the clean x0 on the test split, and the PSNR it makes."""

from __future__ import annotations

import numpy as np

from .base import Metric, Stage, Variable

VARIABLES = {
    "posterior_mse": Variable(
        ("sigma",),
        "mean squared error per element of `output` on x0 + sigma eps against the clean x0 (test "
        "split)",
        long_name="posterior mean squared error",
    ),
    "posterior_psnr": Variable(
        ("sigma",),
        "10 log10(data_range^2 / posterior_mse), data_range the dataset's declared range (attr; 2 "
        "for data in [-1, 1])",
        units="dB",
        long_name="posterior PSNR",
    ),
}


def compute(cell) -> dict:
    """The denoiser's error at the cell's sigma, on the test split, with its own noise stream."""
    from ..compute.extract import NoiseStream
    from ..maths.posterior import posterior_quality
    from ..seeds import derive_seed
    from ..spec.kinds import FORWARD_ROWS

    spec, p = cell.spec, cell.params
    seed = derive_seed(spec.seed, cell.dataset, "posterior", p.model, repr(float(p.sigma)))
    test = cell.x0[cell.data.split == "test"]
    peak = float(cell.data.meta.get("data_range", 2.0))
    stream = NoiseStream(seed, cell.x0.shape[1:])
    mse, psnr = posterior_quality(cell.net, test, p.sigma, stream, FORWARD_ROWS, cell.device, peak)
    return {"posterior_mse": np.full(1, mse), "posterior_psnr": np.full(1, psnr)}  # (sigma,)


def annotate(ds, spec, context) -> None:
    if "posterior_psnr" in ds:
        ds["posterior_psnr"].attrs["data_range"] = context.get("data_range", 2.0)


METRIC = Metric(
    name="posterior_mse",
    stage=Stage.FEATURES,
    about="the denoiser's mean squared error and PSNR at every sigma (test split)",
    variables=VARIABLES,
    compute=compute,
    reads={"pooled"},
    annotate=annotate,
    export={"posterior_mse": None},
    order=60,
)
