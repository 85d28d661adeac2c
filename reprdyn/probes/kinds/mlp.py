"""Probe kind `mlp`: Linear, ReLU, Linear, trained with Adam, the paper's posterior probe (the
estimator is `reprdyn.probes.neural`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ...spec.probes import TrainedBlock


class MLPProbe(TrainedBlock):
    """Linear, ReLU, Linear: the paper's posterior probe."""

    order: ClassVar[int] = 40

    kind: Literal["mlp"]
    hidden: int = Field(256, gt=0, le=65_536)

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        from ..neural import MLPProbe as MLP

        return MLP(n_classes, **self.params(), seed=seed, device=device)


PROBE = MLPProbe
