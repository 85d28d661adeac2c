"""Probe kind `seg-linear`: per-pixel ridge on one-hot mask labels from streamed normal equations,
fitted by the segmentation protocol (`reprdyn.probes.dense_protocol`, `.segmentation`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ...spec.probes import PositiveFloat, ProbeBlock


class SegLinearProbe(ProbeBlock):
    """Per-pixel ridge on one-hot mask labels from streamed normal equations (X^T X and X^T Y summed
    over pixels): exact, in memory C x C whatever the number of pixels; lambda by validation mIoU.
    """

    pixels: ClassVar[str] = "stream"  # every pixel of the fit images, summed as it streams
    order: ClassVar[int] = 50

    kind: Literal["seg-linear"]
    lambdas: list[PositiveFloat] | None = Field(
        None,
        min_length=1,
        description="ridge penalties on standardised features; default 13 values from 1e-6 to 1",
    )


PROBE = SegLinearProbe
