"""Probe kind `bn-linear`: BatchNorm1d then Linear, trained with Adam, the paper's Table 1
protocol (the estimator is `reprdyn.probes.neural`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from ...spec.probes import TrainedBlock


class BNLinearProbe(TrainedBlock):
    """BatchNorm1d then Linear, trained with Adam: the paper's Table 1 protocol."""

    order: ClassVar[int] = 30

    kind: Literal["bn-linear"]

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        from ..neural import BNLinearProbe as BNLinear

        return BNLinear(n_classes, **self.params(), seed=seed, device=device)


PROBE = BNLinearProbe
