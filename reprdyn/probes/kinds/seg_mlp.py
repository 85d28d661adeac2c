"""Probe kind `seg-mlp`: the per-pixel MLP of Baranchuk et al. 2022 on pixels sampled from the fit
images, fitted by the segmentation protocol (`reprdyn.probes.dense_protocol`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ...spec.probes import TrainedBlock


class SegMLPProbe(TrainedBlock):
    """The per-pixel MLP of Baranchuk et al. 2022 (Linear, ReLU, Linear), an ensemble of members
    with their own seeds, trained on pixels sampled from the training images; their softmax outputs
    are averaged."""

    pixels: ClassVar[str] = "sample"  # `segmentation.max_pixels` pixels sampled from the images
    order: ClassVar[int] = 60

    kind: Literal["seg-mlp"]
    hidden: int = Field(256, gt=0, le=65_536)
    ensemble: int = Field(3, ge=1, le=20, description="members, each with its own initialisation")
    epochs: int = Field(10, gt=0, le=100_000)


PROBE = SegMLPProbe
