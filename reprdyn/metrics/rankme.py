"""Metric `rankme`: label-free scores of each layer's features at every sigma — RankMe and
alpha-ReQ — the sigma (and layer) each would choose without labels, and the regret of that choice:
test accuracy at the validation choice minus test accuracy at the label-free one, with a paired
interval (docs/theory.md §9).

A-SelecT and the label-free model-selection literature ask whether a feature statistic can stand
in for a labelled validation split; the regret answers it on the user's own data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .base import Figure, Metric, Stage, Table, Variable

if TYPE_CHECKING:  # annotations only: drawing imports matplotlib when it draws
    import matplotlib.pyplot as plt
    import xarray as xr

    from ..read.summary.rows import Interval

# each score: (its variable, how it chooses: the argmax of this function of the score)
SCORES = {
    "rankme": ("rankme", lambda v: v),  # the highest effective rank
    "alpha_req": ("alpha_req", lambda v: -np.abs(v - 1.0)),  # alpha nearest 1
}
SIGMA_LAYER = ("sigma", "layer", "input")

VARIABLES = {
    "rankme": Variable(
        SIGMA_LAYER,
        "RankMe: exp of the entropy of the normalised singular values of the centred features "
        "(analysis subset of the test split; Garrido et al. 2023)",
        long_name="RankMe effective rank",
    ),
    "alpha_req": Variable(
        SIGMA_LAYER,
        "alpha-ReQ: decay coefficient of a power law fitted to the feature covariance's "
        "eigenvalues (analysis subset; Agrawal et al. 2022)",
        long_name="alpha-ReQ eigenspectrum decay",
    ),
    "sigma_star_label_free": Variable(
        ("layer", "input", "score"),
        "the sigma each label-free score picks on the layer: the highest RankMe, the alpha "
        "nearest 1",
        long_name="sigma chosen without labels",
    ),
}
COORDS = {"score": (tuple(SCORES), "label-free feature score")}


def compute(cell) -> dict:
    """RankMe and alpha-ReQ of the features at each sigma (`cell.X`, a list of (n, C)), and the
    sigma each picks."""
    from ..maths.spectra import alpha_req, rankme

    values = {
        "rankme": np.array([rankme(X) for X in cell.X]),
        "alpha_req": np.array([alpha_req(X) for X in cell.X]),
    }
    sigmas = np.asarray(cell.spec.sigmas, float)
    picks = [_pick(sigmas, choose(values[var])) for var, choose in SCORES.values()]
    out = {name: v.reshape(-1, 1, 1) for name, v in values.items()}  # (sigma, layer, input)
    out["sigma_star_label_free"] = np.array(picks).reshape(1, 1, -1)
    return out


def _pick(values: np.ndarray, goodness: np.ndarray) -> float:
    """The value where `goodness` is highest (the first on ties); NaN where it is nowhere finite."""
    ok = np.isfinite(goodness)
    return float(values[np.flatnonzero(ok)[np.argmax(goodness[ok])]]) if ok.any() else np.nan


# --- the summary's table: the label-free choice and its regret --------------------------------


@dataclass(frozen=True)
class RegretRow:
    """One label-free score's choice of (layer, sigma) against the validation choice, for one
    probe and input, at the lowest label noise."""

    dataset: str
    model: str
    layer: str  # "all": the choice is over every layer the probe reads
    input: str
    probe: str
    score: str
    pick: str  # "layer @ sigma" the score chose
    val_pick: str  # "layer @ sigma" validation accuracy chose
    val_pick_accuracy: Interval  # test accuracy there
    pick_accuracy: Interval  # test accuracy at the score's pick
    regret: Interval  # val_pick_accuracy - pick_accuracy, paired
    verdict: str
    replicates: int
    seeds: int
    point: str = ""
    label_noise: float = float("nan")


def _verdict(regret: Interval) -> str:
    """What the regret's interval says of the label-free choice."""
    if not math.isfinite(regret.low):
        return "no interval"
    if regret.low > 0:
        return "worse than validation"
    return "better than validation" if regret.high < 0 else "as good (within noise)"


def _regret_rows(name: str, ds) -> list[RegretRow]:
    from ..maths.uncertainty import combined_draws, interval
    from ..read.summary.build import reading
    from ..read.summary.rows import Interval

    r = reading(ds)
    low, rows = r.low, []
    for model in low.model.values:
        for inp in low.input.values:
            for probe in low.probe.values:
                at = dict(model=model, input=inp, probe=probe)
                acc = low["accuracy"].sel(at)  # (replicate, sigma, layer, seed)
                val = low["val_accuracy"].sel(at).mean(("replicate", "seed"))  # (sigma, layer)
                test = acc.mean(("replicate", "seed"))
                if not np.isfinite(val.values).any():
                    continue
                best = _argmax(val, test)
                for score, (var, choose) in SCORES.items():
                    if var not in low:
                        continue
                    s = low[var].sel(model=model, input=inp).mean("replicate")  # (sigma, layer)
                    good = _apply(choose, s)
                    pick = _argmax(good, test)
                    if pick is None:
                        continue
                    a_best, a_pick = (float(test.sel(layer=c[0], sigma=c[1])) for c in (best, pick))
                    nan = (np.nan, np.nan)
                    ci_best = ci_pick = ci = nan
                    if "accuracy_boot" in low:
                        boot = low["accuracy_boot"].sel(at)
                        pair = [
                            boot.sel(layer=c[0], sigma=c[1])
                            .transpose("replicate", "seed", "boot")
                            .values
                            for c in (best, pick)
                        ]
                        d = combined_draws(np.stack(pair), r.seed)  # (2, B): the same picks
                        ci_best, ci_pick = (
                            interval(d[0], r.confidence),
                            interval(d[1], r.confidence),
                        )
                        ci = interval(d[0] - d[1], r.confidence)
                    regret = Interval(a_best - a_pick, *ci)
                    rows.append(
                        RegretRow(
                            name,
                            str(model),
                            "all",
                            str(inp),
                            str(probe),
                            score,
                            _label(pick),
                            _label(best),
                            Interval(a_best, *ci_best),
                            Interval(a_pick, *ci_pick),
                            regret,
                            _verdict(regret),
                            int(acc.sizes["replicate"]),
                            int(acc.sizes["seed"]),
                            label_noise=r.level,
                        )  # fmt: skip
                    )
    return rows


def _apply(f, da):
    """f applied to the values of a DataArray, keeping its coordinates."""
    return da.copy(data=f(da.values))


def _argmax(goodness, test) -> tuple[str, float] | None:
    """The (layer, sigma) where `goodness` (sigma, layer) is highest among the cells that have a
    test accuracy; the lowest sigma, then the first layer, on ties."""
    g = goodness.transpose("sigma", "layer").values
    ok = np.isfinite(g) & np.isfinite(test.transpose("sigma", "layer").values)
    if not ok.any():
        return None
    flat = np.where(ok, g, -np.inf)
    i, j = np.unravel_index(int(np.argmax(flat)), flat.shape)
    return str(goodness.layer.values[j]), float(goodness.sigma.values[i])


def _label(cell: tuple[str, float]) -> str:
    return f"{cell[0]} @ σ={cell[1]:.3g}"


REGRET_COLUMNS = (
    ("score", lambda r: r.score),
    ("label-free pick", lambda r: r.pick),
    ("validation pick", lambda r: r.val_pick),
    ("acc there (val)", lambda r: str(r.val_pick_accuracy)),
    ("acc at label-free", lambda r: str(r.pick_accuracy)),
    ("regret", lambda r: r.regret.signed()),
    ("would it have chosen well?", lambda r: r.verdict),
)


def _tables() -> tuple:
    return (
        Table(
            "label_free",
            "rankme",
            _regret_rows,
            REGRET_COLUMNS,
            title="σ and layer chosen without labels: each score's pick against validation "
            "accuracy's, and the regret (test accuracy at the validation pick minus at the "
            "score's, paired)",
            layer="layers",
            heading="Choosing σ and layer without labels",
            note="RankMe picks the highest effective rank, alpha-ReQ the decay nearest 1; the "
            "regret is test accuracy lost against the validation choice.",
        ),
    )


# --- the figure ----------------------------------------------------------------------


def figure(ds: xr.Dataset, dataset: str, sweep: list[str]) -> plt.Figure:
    from ..plot import style

    style.need(ds, "rankme", "regret")
    from ..read.summary.build import combos

    ds = ds if "model" in ds.dims else ds.expand_dims(model=[""])
    rows = [
        r
        for at in combos(ds, sweep)
        for r in _regret_rows(", ".join(f"{d}={v:g}" for d, v in at.items()) or dataset, ds.sel(at))
    ]
    if not rows:
        raise style.FigureError(
            "figure 'regret' needs probes' accuracy beside the label-free scores; add accuracy to "
            "the spec's metrics"
        )
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(", ".join(x for x in (r.model, r.probe, r.input) if x), []).append(r)
    fig, axes = style.panels(len(groups), cols=2)
    for ax, (label, these) in zip(axes, groups.items()):
        y = np.arange(len(these))
        m = np.array([100 * r.regret.value for r in these])
        lo = np.array([100 * r.regret.low for r in these])
        hi = np.array([100 * r.regret.high for r in these])
        err = np.nan_to_num(np.abs(np.stack([lo, hi]) - m))
        ax.barh(y, m, 0.5, xerr=err, capsize=2, color=["C3" if r.regret.low > 0 else "C2"
                                                        for r in these])  # fmt: skip
        ax.axvline(0, color="k", linewidth=0.8)
        ax.margins(x=0.15)
        ax.set_yticks(y, [f"{r.score}\n{r.pick}" for r in these])
        ax.set_xlabel("regret (accuracy points lost against validation)")
        ax.set_title(f"{dataset}: {label}; validation: {these[0].val_pick}")
    style.caption(
        fig,
        "Test accuracy at the validation choice of (layer, σ) minus at each label-free score's "
        "choice; bars: the paired interval; red: the score chose worse, green: within noise or "
        "better.",
    )
    return fig


METRIC = Metric(
    name="rankme",
    stage=Stage.ANALYSIS,
    about="label-free scores of the features at each sigma (RankMe, alpha-ReQ), the sigma and "
    "layer each picks, and its regret against the validation choice",
    variables=VARIABLES,
    compute=compute,
    reads={"pooled"},
    tables=_tables,
    figures=(
        Figure(
            "regret",
            "test accuracy lost by choosing sigma and layer with each label-free score instead of "
            "validation accuracy, with paired intervals",
            figure,
            at_lowest_noise=True,
        ),
    ),
    coords=COORDS,
    order=85,
)
