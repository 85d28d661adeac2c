"""Probe kind `ridge`: closed-form ridge on one-hot labels, lambda per feature set by exact
leave-one-out, GCV or validation (the estimator is `reprdyn.probes.ridge`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ...spec.probes import PositiveFloat, ProbeBlock


class RidgeProbe(ProbeBlock):
    """Closed-form ridge on one-hot labels; lambda per feature set by exact LOO, GCV or
    validation."""

    gram: ClassVar[bool] = True  # one C x C Gram matrix and its eigenvectors per sigma
    order: ClassVar[int] = 10
    default: ClassVar[bool] = True  # a spec without `probes` gets one ridge probe

    kind: Literal["ridge"]
    lambdas: list[PositiveFloat] | None = Field(
        None, min_length=1, description="the lambda grid; default 13 values from 1e-4 n to 1e2 n"
    )
    selection: Literal["gcv", "loo", "val"] = Field(
        "gcv",
        description="gcv: O(r) per lambda; loo: exact leave-one-out; val: validation accuracy",
    )

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        from ..ridge import RidgeProbe as Ridge

        return Ridge(n_classes, **self.params(), device=device)


PROBE = RidgeProbe
