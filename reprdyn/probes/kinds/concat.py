"""Probe kind `concat`: ridge on every (layer, sigma) cell's standardised features side by side,
the plain baseline of the learned aggregation (the estimator is `reprdyn.probes.joint`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ...spec.probes import PositiveFloat, ProbeBlock


class ConcatProbe(ProbeBlock):
    """Ridge (lambda by GCV) on the concatenation of every layer and sigma it reads."""

    joint: ClassVar[bool] = True
    gram: ClassVar[bool] = True
    order: ClassVar[int] = 70

    kind: Literal["concat"]
    lambdas: list[PositiveFloat] | None = Field(
        None, min_length=1, description="the lambda grid; default 13 values from 1e-4 n to 1e2 n"
    )
    selection: Literal["gcv", "loo", "val"] = Field(
        "gcv", description="how lambda is chosen: gcv, exact leave-one-out, or validation accuracy"
    )

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        from ..joint import ConcatProbe as Concat

        return Concat(n_classes, **self.params(), device=device)


PROBE = ConcatProbe
