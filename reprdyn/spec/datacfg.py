"""Spec blocks for datasets: a discriminated union on `kind`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MolrgData(Strict):
    """Noisy mixture of low-rank Gaussians (docs/theory.md §2)."""

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
    def _fits(self) -> MolrgData:
        if self.K * self.d > self.n:
            raise ValueError(
                f"K*d = {self.K * self.d} must be at most n = {self.n} (the class subspaces are "
                "mutually orthogonal)"
            )
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n,)


class DigitsData(Strict):
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes), scaled to [-1,
    1]."""

    kind: Literal["digits"]
    name: Name
    size: int = Field(
        8, ge=4, le=64, description="resize to size x size (bilinear); 8 keeps the originals"
    )
    test_fraction: float = Field(0.3, gt=0, lt=1, description="stratified test split")
    seed: int | None = Field(None, description="split seed; defaults to the spec seed")

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, self.size, self.size)


class NpzData(Strict):
    """Arrays from a NumPy .npz file: `x` (N, ...) and integer labels `y` (N,).

    uint8 images are scaled to [-1, 1]; float arrays are used as they are.
    A test split comes from `x_test`/`y_test` when the file has them, else
    from a stratified `test_fraction` of `x`. The file itself is checked by
    `reprdyn.checks` (headers only), after the spec is validated.
    """

    kind: Literal["npz"]
    name: Name
    path: str = Field(
        description="the .npz file, relative to the spec's folder",
        json_schema_extra={"x-path": True},
    )
    x: str = Field("x", description="array of samples")
    y: str = Field("y", description="array of integer labels")
    test_fraction: float = Field(
        0.3, gt=0, lt=1, description="stratified test split when there is no x_test"
    )
    seed: int | None = Field(None, description="split seed; defaults to the spec seed")

    @property
    def shape(self) -> None:
        """Known only from the file's headers (`reprdyn.checks`)."""
        return None


# --- image datasets: hf, torchvision ----------------------------------------------


class Transform(Strict):
    """Image preprocessing: resize the shorter side, centre-crop, scale to the model's input
    range."""

    size: int = Field(gt=0, description="resize the shorter side to this many pixels")
    crop: int | None = Field(None, gt=0, description="centre-crop to crop x crop; default: size")
    channels: Literal[1, 3] = Field(3, description="3: RGB, 1: greyscale")
    range: tuple[float, float] = Field(
        (-1.0, 1.0),
        description="pixel values are mapped from [0, 1] to this "
        "range; diffusers models expect [-1, 1]",
    )

    @model_validator(mode="after")
    def _fits(self) -> Transform:
        if self.crop is not None and self.crop > self.size:
            raise ValueError(f"crop {self.crop} is larger than the resized image ({self.size})")
        if self.range[0] >= self.range[1]:
            raise ValueError(f"range {list(self.range)} must go from low to high")
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        side = self.crop or self.size
        return (self.channels, side, side)


class _Images(Strict):
    name: Name
    transform: Transform
    n_train: int | None = Field(
        None, gt=0, description="use a random subset of this many train images"
    )
    n_test: int | None = Field(
        None, gt=0, description="use a random subset of this many test images"
    )
    per_class: bool = Field(False, description="n_train / n_test count per class instead of in all")
    seed: int | None = Field(None, description="subset seed; defaults to the spec seed")

    @property
    def shape(self) -> tuple[int, ...]:
        return self.transform.shape


class HfData(_Images):
    """A Hugging Face dataset: a hub name for `datasets.load_dataset`, or a local imagefolder or
    parquet folder."""

    kind: Literal["hf"]
    path: str = Field(
        description="a hub dataset name (uoft-cs/cifar10), or a local folder, relative to the spec",
        json_schema_extra={"x-path": "maybe"},
    )
    config: str | None = Field(
        None, description="the dataset's configuration name, if it has several"
    )
    revision: str | None = None
    image_column: str = "image"
    label_column: str = "label"
    train_split: str = "train"
    test_split: str = "test"


TORCHVISION = ("CIFAR10", "CIFAR100", "Flowers102", "DTD", "ImageFolder")


class TorchvisionData(_Images):
    """A torchvision dataset (needs the optional torchvision package, which `reprdyn.checks` looks
    for):
    CIFAR10/100, Flowers102, DTD, or an ImageFolder with train/ and test/ subfolders."""

    kind: Literal["torchvision"]
    dataset: Literal["CIFAR10", "CIFAR100", "Flowers102", "DTD", "ImageFolder"]
    root: str = Field(
        description="where the files are (or go, with download), relative to the spec",
        json_schema_extra={"x-path": True},
    )
    download: bool = Field(False, description="let torchvision download the files into root")


Dataset = Annotated[
    MolrgData | DigitsData | NpzData | HfData | TorchvisionData, Field(discriminator="kind")
]
