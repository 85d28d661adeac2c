"""Spec blocks for datasets: a discriminated union on `kind`."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MolrgData(Strict):
    """Noisy mixture of low-rank Gaussians (THEORY.md §2)."""
    kind: Literal["molrg"]
    name: Name
    n: int = Field(gt=0, description="ambient dimension")
    K: int = Field(ge=2, description="number of classes")
    d: int = Field(gt=0, description="subspace dimension per class")
    delta: float = Field(ge=0, lt=1, allow_inf_nan=False, description="off-subspace noise level")
    n_train: int = Field(gt=0)
    n_test: int = Field(gt=0)
    seed: int | None = Field(None, description="data seed; defaults to the spec seed")

    @model_validator(mode="after")
    def _fits(self) -> "MolrgData":
        if self.K * self.d > self.n:
            raise ValueError(f"K*d = {self.K * self.d} must be at most n = {self.n} "
                             "(the class subspaces are mutually orthogonal)")
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n,)


class DigitsData(Strict):
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes), scaled to [-1, 1]."""
    kind: Literal["digits"]
    name: Name
    size: int = Field(8, ge=4, le=64, description="resize to size x size (bilinear); 8 keeps the originals")
    test_fraction: float = Field(0.3, gt=0, lt=1, description="stratified test split")
    seed: int | None = Field(None, description="split seed; defaults to the spec seed")

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, self.size, self.size)


Dataset = Annotated[Union[MolrgData, DigitsData], Field(discriminator="kind")]
