"""Metric `csnr`: the empirical class-specific SNR of every layer at every sigma (docs/theory.md
§4), from per-class second moments of the train split accumulated while the features stream into
the store, so it needs no second pass."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import Field, StrictInt, field_validator

from .accuracy import classifies
from .base import Figure, Metric, Settings, Stage, Variable

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr

MOMENT_BUDGET = 2 << 30  # bytes of per-class second moments before CSNR of a layer is skipped


class Csnr(Settings):
    """How CSNR bases are found (docs/theory.md §4): the true MoLRG bases, or per-class SVD of
    features."""

    basis: Literal["auto", "truth", "svd"] = Field(
        "auto", description="auto: the true bases (truth) for `output` on molrg data, SVD otherwise"
    )
    rank: Annotated[StrictInt, Field(gt=0)] | Literal["auto", "energy"] = Field(
        "auto",
        description="SVD rank r per class: auto (the directions above Gavish and Donoho's hard "
        "threshold for noise, docs/theory.md §4) | energy (keep `energy` of the spectrum) | an int",
    )
    energy: float = Field(0.9, gt=0, le=1)
    center: Literal["auto", "none", "global", "class"] = Field(
        "auto",
        description="the centre of the features before the class moments and their SVD: auto "
        "(global for SVD bases, none for the true MoLRG bases) | none (the paper's raw moments) | "
        "global (minus the mean over all classes) | class (each class about its own mean)",
    )

    whiten: bool | Literal["auto"] = Field(
        "auto",
        description="whiten the (centred) features by their pooled within-class covariance before "
        "the SVD, so shared within-class variation counts as noise, as MoLRG's isotropic noise "
        "does (docs/theory.md §4): auto (yes for SVD bases, no for the true MoLRG bases)",
    )

    @field_validator("center", mode="before")
    @classmethod
    def _old_bool(cls, v):
        return {True: "class", False: "none"}.get(v, v) if isinstance(v, bool) else v

    @field_validator("rank", mode="before")
    @classmethod
    def _old_null(cls, v):
        return "energy" if v is None else v  # rank: null used to mean "by energy"

    def centre(self, true_bases: bool) -> str:
        """The centring in force for a layer: `auto` is none with the true bases, else global."""
        if self.center != "auto":
            return self.center
        return "none" if true_bases else "global"

    def whitened(self, true_bases: bool) -> bool:
        """Whether a layer's features are whitened: `auto` is no with the true bases, else yes."""
        return not true_bases if self.whiten == "auto" else bool(self.whiten)


VARIABLES = {
    "csnr": Variable(
        ("sigma", "layer", "input", "class"),
        "empirical CSNR per class (docs/theory.md §4) on the train split; bases per the `csnr` "
        "attr",
        long_name="class-specific SNR",
    ),
    "csnr_overall": Variable(
        ("sigma", "layer", "input"),
        "empirical CSNR over all classes (ratio of means)",
        long_name="class-specific SNR, all classes",
    ),
}


class Moments:
    """Per-class moments of each layer's train rows, one input's stream (`update` per block)."""

    def __init__(self, cell):
        self.data, self.train = cell.data, cell.data.split == "train"
        self.layers: dict = {}

    def update(self, layer: str, start: int, f: np.ndarray) -> None:
        from ..maths.csnr import ClassMoments

        K, C = self.data.n_classes, f.shape[1]
        if K * C * C * 8 > MOMENT_BUDGET:
            return
        m = self.train[start : start + len(f)]
        y = self.data.y[start : start + len(f)]
        self.layers.setdefault(layer, ClassMoments(K, C)).update(f[m], y[m])


def compute(cell) -> dict:
    """(overall, per class) CSNR of every layer and input at the cell's sigma, from the moments
    its stream gathered (`cell.observed[j]`, one `Moments` per input)."""
    from ..maths.csnr import csnr_of
    from ..spec.kinds import PIXELS

    spec, data = cell.spec, cell.data
    K, n_layers, n_inputs = data.n_classes, len(spec.layers), len(spec.inputs)
    per, overall = np.full((n_layers, n_inputs, K), np.nan), np.full((n_layers, n_inputs), np.nan)
    for j in range(n_inputs):
        moments = cell.observed["csnr"][j].layers
        for li, layer in enumerate(spec.layers):
            if layer in moments:
                truth = _true_bases(spec, data, layer, moments[layer].G.shape[-1])
                overall[li, j], per[li, j] = csnr_of(moments[layer], spec.csnr, truth)
            elif layer != PIXELS:  # the baseline has no CSNR
                warnings.warn(
                    f"CSNR of layer {layer!r} skipped: per-class moments would exceed "
                    f"{MOMENT_BUDGET >> 30} GiB",
                    stacklevel=1,
                )
    return {"csnr": per[None], "csnr_overall": overall[None]}  # a singleton sigma


def _true_bases(spec, data, layer: str, width: int) -> list | None:
    """MoLRG's true U_k where they apply (`output` on molrg data, or basis `truth`), else None
    (per-class SVD bases; docs/theory.md §4)."""
    from ..spec.kinds import OUTPUT

    cfg = spec.csnr
    U = data.extras.get("U", (None, None))[1]
    true_ok = U is not None and width == U.shape[1]
    if cfg.basis == "truth" or (cfg.basis == "auto" and layer == OUTPUT and true_ok):
        if not true_ok:
            raise ValueError(
                "csnr.basis 'truth' needs the data-space output of a molrg dataset, not layer "
                f"{layer!r}"
            )
        return list(U)
    return None


def _true_bases_rule(spec):
    bad = [d.name for d in spec.datasets if d.kind != "molrg"]
    if spec.csnr.basis == "truth" and bad:
        yield (
            ("csnr", "basis"),
            (
                f"basis 'truth' needs molrg datasets (their true U_k); {bad} are not; use auto "
                "or svd"
            ),
        )


def annotate(ds, spec, context) -> None:
    ds.attrs["csnr"] = spec.csnr.model_dump(mode="json")


# --- figure ---------------------------------------------------------------------------------


def figure(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    from ..plot import style

    emp = style.with_model(style.need(ds, "csnr_overall", "csnr")).mean("replicate").load()
    fig, (ax,) = style.panels(1, panel=(style.WIDE[0] + 0.6, 2.8))
    for label, c in style.series(emp, ("sigma",)):
        ax.plot(c.sigma.values, c.values, marker="o", label=f"empirical {label}".strip())
    if "csnr_theory" in ds:
        shown: list[
            np.ndarray
        ] = []  # one closed-form line per distinct curve (sweep points share it)
        for label, th in style.series(ds["csnr_theory"].load(), ("sigma",)):
            if any(np.allclose(th.values, s, equal_nan=True) for s in shown):
                continue
            shown.append(th.values)
            name = "closed form (docs/theory.md §5)" + (f" {label}" if label else "")
            ax.plot(
                th.sigma.values,
                th.values,
                "--",
                color="k",
                alpha=0.7 - 0.15 * (len(shown) - 1),
                label=name,
            )
    style.sigma_axis(ax, emp.sigma.values)
    ax.set_yscale("log")
    ax.set_ylabel("CSNR")
    ax.set_title(f"{dataset}: class-specific SNR")
    style.legend(ax)
    return fig


METRIC = Metric(
    name="csnr",
    stage=Stage.FEATURES,
    about="empirical class-specific SNR of every layer at every sigma (per class and overall)",
    variables=VARIABLES,
    compute=compute,
    observe=Moments,
    default=classifies,
    reads={"pooled", "labels"},
    settings=("csnr", Csnr),
    rules=_true_bases_rule,
    check_var="csnr_overall",
    annotate=annotate,
    figures=(
        Figure("csnr", "empirical CSNR against sigma, with the closed form where stored", figure),
    ),
    export={"csnr_overall": None},
    order=30,
)
