"""Metric `csnr_theory`: the closed-form CSNR of a MoLRG dataset's optimal posterior at every
sigma (docs/theory.md §5), the curve the empirical `csnr` is checked against."""

from __future__ import annotations

from .base import Metric, Stage, Variable

VARIABLES = {
    "csnr_theory": Variable(
        ("sigma",),
        "closed-form CSNR of the optimal posterior (docs/theory.md §5)",
        per_model=False,
        long_name="class-specific SNR, closed form",
    ),
}


def compute(cell) -> dict:
    from ..maths.csnr import csnr_theory

    m = cell.data.meta
    return {
        "csnr_theory": csnr_theory(cell.spec.sigmas, int(m["K"]), int(m["d"]), float(m["delta"]))
    }


def rules(spec):
    if "csnr_theory" not in spec.metrics:
        return
    not_molrg = [d.name for d in spec.datasets if d.kind != "molrg"]
    if not_molrg:
        yield ("metrics",), f"csnr_theory is defined for molrg datasets only, not {not_molrg}"
    exact = [d.name for d in spec.datasets if d.kind == "molrg" and d.delta == 0]
    if exact:
        yield (
            ("metrics",),
            (
                f"csnr_theory is infinite at every sigma for delta = 0 (datasets {exact}): clean "
                "samples then have no energy outside their class subspace; give delta > 0, or drop "
                "csnr_theory (the empirical csnr is still measured)"
            ),
        )


def default(raw: dict) -> bool:
    """By default where every dataset is molrg with delta > 0 (and a probe classifies)."""
    from .accuracy import classifies

    ds = raw.get("datasets")
    molrg = isinstance(ds, list) and all(
        isinstance(d, dict) and d.get("kind") == "molrg" and d.get("delta") != 0 for d in ds
    )
    return molrg and classifies(raw)


METRIC = Metric(
    name="csnr_theory",
    stage=Stage.THEORY,
    about="closed-form CSNR of the optimal posterior on MoLRG data",
    variables=VARIABLES,
    compute=compute,
    default=default,
    reads={"labels"},
    rules=rules,
    export={"csnr_theory": None},
    order=40,
)
