"""The base of a probe kind's spec block (the kinds themselves are `reprdyn.probes.kinds`, one
module each; the spec's `probes` is the union of their blocks), and the soft-voting ensemble."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .datacfg import Name, Strict
from .grid import MAX_GRID


class ProbeBlock(Strict):
    """The base of a probe kind's spec block (declared as `PROBE` by its module in
    `reprdyn.probes.kinds`): the fields every probe has, what the run asks of a kind, and how it
    builds its estimator."""

    # class-level facts of a kind (not spec fields)
    pixels: ClassVar[str | None] = None  # segmentation: "stream" (normal equations) or "sample"
    gram: ClassVar[bool] = False  # holds a C x C Gram matrix per sigma (the preflight counts it)
    order: ClassVar[int] = 100  # where the kind comes in the schema's union
    default: ClassVar[bool] = False  # the probe a spec without `probes` gets
    joint: ClassVar[bool] = False  # one fit over every (layer, sigma) it reads (the joint stage)
    tokens: ClassVar[bool] = False  # reads a layer's spatial tokens (S, n, h * w, C), not pooled

    name: Name | None = Field(None, description="label on the `probe` coord; default: the kind")
    layers: list[str] | None = Field(None, description="layers this probe reads; default all")
    transform: Literal["none", "abs"] = Field(
        "none", description="'abs' probes |features|, as for posterior probes (docs/theory.md §5)"
    )
    standardize: bool = Field(
        True,
        description="z-score features with train statistics; false keeps their scale, as the "
        "paper's posterior probe does (the shrinkage at large sigma then matters)",
    )

    @property
    def label(self) -> str:
        return self.name or self.kind

    @property
    def dense(self) -> bool:
        """A segmentation probe: it reads dense sets pixel by pixel and reports miou."""
        return self.pixels is not None

    def params(self) -> dict:
        """The block's settings, as the estimator's keyword arguments."""
        return self.model_dump(exclude={"kind", "name", "layers"})

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        """A fresh estimator for this block (a classification probe: `fit`, `predict`,
        `decision_function` over a stack of feature sets; see `reprdyn.probes.base`)."""
        raise NotImplementedError(f"probe kind {self.kind!r} is fitted by its own protocol")


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class TrainedBlock(ProbeBlock):
    """The settings of a probe trained with Adam on minibatches."""

    epochs: int = Field(50, gt=0, le=100_000)
    batch_size: int = Field(256, gt=1, le=1_000_000)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class Ensemble(Strict):
    """Soft voting of probes across sigmas (docs/theory.md §6): logits (ridge: scores) are
    averaged."""

    strategy: Literal["neighbours", "all", "top"] = Field(
        "neighbours",
        description="best sigma +- k grid points | every sigma | the m best on validation",
    )
    k: int = Field(2, ge=0, le=MAX_GRID)
    m: int = Field(3, ge=1, le=MAX_GRID)

    def size(self, n_sigmas: int) -> int:
        """Most members an ensemble can have (the length of the `member` dim)."""
        return {"neighbours": 2 * self.k + 1, "all": n_sigmas, "top": self.m}[self.strategy]
