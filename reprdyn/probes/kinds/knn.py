"""Probe kind `knn`: weighted k-nearest neighbours on cosine similarity, DINO's vote (the
estimator is `reprdyn.probes.knn`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ...spec.probes import PositiveFloat, ProbeBlock


class KNNProbe(ProbeBlock):
    """k nearest training samples by cosine similarity vote with weight exp(sim / temperature)."""

    order: ClassVar[int] = 50

    kind: Literal["knn"]
    k: int = Field(20, ge=1, le=10_000, description="neighbours that vote (DINO: 20)")
    temperature: PositiveFloat = Field(
        0.07, description="vote weight exp(similarity / temperature) (DINO: 0.07)"
    )
    standardize: bool = Field(
        False, description="z-score features with train statistics before the cosine (DINO: no)"
    )

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        from ..knn import KNNProbe as KNN

        return KNN(n_classes, **self.params(), device=device)


PROBE = KNNProbe
