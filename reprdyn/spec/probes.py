"""Probe blocks of a spec (a discriminated union on `kind`), and the soft-voting ensemble."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .datacfg import Name, Strict
from .grid import MAX_GRID


class _Probe(Strict):
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


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class RidgeProbe(_Probe):
    """Closed-form ridge on one-hot labels; lambda per feature set by exact LOO, GCV or
    validation."""

    kind: Literal["ridge"]
    lambdas: list[PositiveFloat] | None = Field(
        None, min_length=1, description="the lambda grid; default 13 values from 1e-4 n to 1e2 n"
    )
    selection: Literal["gcv", "loo", "val"] = Field(
        "gcv",
        description="gcv: O(r) per lambda; loo: exact leave-one-out; val: validation accuracy",
    )


class LogisticProbe(_Probe):
    """Multinomial L2 logistic regression, full-batch L-BFGS over the whole stack at once."""

    kind: Literal["logistic"]
    C: PositiveFloat | Annotated[list[PositiveFloat], Field(min_length=1)] = Field(
        1.0, description="inverse regularisation; a list is a grid chosen on validation data"
    )
    max_iter: int = Field(500, gt=0, le=100_000)
    tol: float = Field(1e-4, gt=0, description="L-BFGS gradient tolerance (scikit-learn's default)")


class _TrainedProbe(_Probe):
    epochs: int = Field(50, gt=0, le=100_000)
    batch_size: int = Field(256, gt=1, le=1_000_000)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class BNLinearProbe(_TrainedProbe):
    """BatchNorm1d then Linear, trained with Adam: the paper's Table 1 protocol."""

    kind: Literal["bn-linear"]


class MLPProbe(_TrainedProbe):
    """Linear, ReLU, Linear: the paper's posterior probe."""

    kind: Literal["mlp"]
    hidden: int = Field(256, gt=0, le=65_536)


class SegLinearProbe(_Probe):
    """Per-pixel ridge on one-hot mask labels from streamed normal equations (X^T X and X^T Y summed
    over pixels): exact, in memory C x C whatever the number of pixels; lambda by validation mIoU.
    """

    kind: Literal["seg-linear"]
    lambdas: list[PositiveFloat] | None = Field(
        None,
        min_length=1,
        description="ridge penalties on standardised features; default 13 values from 1e-6 to 1",
    )


class SegMLPProbe(_TrainedProbe):
    """The per-pixel MLP of Baranchuk et al. 2022 (Linear, ReLU, Linear), an ensemble of members
    with their own seeds, trained on pixels sampled from the training images; their softmax outputs
    are averaged."""

    kind: Literal["seg-mlp"]
    hidden: int = Field(256, gt=0, le=65_536)
    ensemble: int = Field(3, ge=1, le=20, description="members, each with its own initialisation")
    epochs: int = Field(10, gt=0, le=100_000)


SEGMENTATION_PROBES = ("seg-linear", "seg-mlp")
Probe = Annotated[
    RidgeProbe | LogisticProbe | BNLinearProbe | MLPProbe | SegLinearProbe | SegMLPProbe,
    Field(discriminator="kind"),
]


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
