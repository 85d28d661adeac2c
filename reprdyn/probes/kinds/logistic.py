"""Probe kind `logistic`: multinomial L2 logistic regression, full-batch L-BFGS over the whole
stack at once (the estimator is `reprdyn.probes.logistic`)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from ...spec.probes import PositiveFloat, ProbeBlock


class LogisticProbe(ProbeBlock):
    """Multinomial L2 logistic regression, full-batch L-BFGS over the whole stack at once."""

    order: ClassVar[int] = 20

    kind: Literal["logistic"]
    C: PositiveFloat | Annotated[list[PositiveFloat], Field(min_length=1)] = Field(
        1.0, description="inverse regularisation; a list is a grid chosen on validation data"
    )
    max_iter: int = Field(500, gt=0, le=100_000)
    tol: float = Field(1e-4, gt=0, description="L-BFGS gradient tolerance (scikit-learn's default)")

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        from ..logistic import LogisticProbe as Logistic

        return Logistic(n_classes, **self.params(), device=device)


PROBE = LogisticProbe
