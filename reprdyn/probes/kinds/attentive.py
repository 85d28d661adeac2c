"""Probe kind `attentive`: cross-attention pooling over a layer's spatial tokens, then a linear
head, for layers with a spatial map (the estimator is `reprdyn.probes.attentive`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ...spec.probes import TrainedBlock


class AttentiveProbe(TrainedBlock):
    """One learned query per head attends over the layer's h x w tokens; a linear head reads the
    pooled values. The probe stage reads the layer's maps, not its pooled features."""

    tokens: ClassVar[bool] = True
    order: ClassVar[int] = 55

    kind: Literal["attentive"]
    heads: int = Field(4, gt=0, le=64, description="attention heads, one learned query each")
    head_dim: int = Field(16, gt=0, le=1024, description="width of each head's keys and values")

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        from ..attentive import AttentiveProbe as Attentive

        return Attentive(n_classes, **self.params(), seed=seed, device=device)


PROBE = AttentiveProbe
