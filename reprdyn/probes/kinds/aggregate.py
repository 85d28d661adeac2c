"""Probe kind `aggregate`: a learned aggregation over layer x sigma in the spirit of Diffusion
Hyperfeatures — per-cell projections, softmax mixing weights, a linear head (the estimator is
`reprdyn.probes.joint`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ...spec.probes import TrainedBlock


class AggregateProbe(TrainedBlock):
    """Each (layer, sigma) cell projected to `width` and normalised, mixed with learned softmax
    weights, read by a linear head; the weights are stored as a cube over sigma x layer."""

    joint: ClassVar[bool] = True
    order: ClassVar[int] = 60

    kind: Literal["aggregate"]
    width: int = Field(64, gt=0, le=65_536, description="common width of the projected cells")

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        from ..joint import AggregateProbe as Aggregate

        return Aggregate(n_classes, **self.params(), seed=seed, device=device)


PROBE = AggregateProbe
