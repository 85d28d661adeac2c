"""The options several commands share, declared once as `Annotated` aliases; choices are Enums, so
help and completion list them."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import did_you_mean


class Format(str, Enum):
    """How a command prints what it found: a table for people, or data."""

    table = "table"
    json = "json"


class QueryFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _names() -> list[str]:
    """The figures the metrics declare (read when asked: the registry loads pydantic)."""
    from .. import metrics

    return list(metrics.figures())


def _figure(value: str | None) -> str | None:
    FIGURES = _names()
    if value is not None and value not in FIGURES:
        raise typer.BadParameter(
            f"unknown figure {value!r}; expected one of {', '.join(FIGURES)}"
            + did_you_mean(value, FIGURES)
        )
    return value


def _figures(incomplete: str) -> list[str]:
    return [name for name in _names() if name.startswith(incomplete)]


def _cube(ctx: typer.Context):
    """The first dataset's cube of the STORE on the command line (lazy: metadata only), or None;
    completion never fails out loud. While an option's value is being completed, click has not
    parsed the arguments, so the store is found among the words the shell passed."""
    import os
    import shlex

    from ..store import Results, read_attrs

    store = ctx.params.get("store")
    if store is None:
        words = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
        try:
            store = next((w for w in shlex.split(words) if read_attrs(w) is not None), None)
        except ValueError:  # an unclosed quote mid-typing
            store = None
    try:
        res = Results(str(store))
        return res[ctx.params.get("dataset") or res.datasets[0]]
    except Exception:  # noqa: BLE001 - no store yet, or not one: nothing to offer
        return None


def complete_var(ctx: typer.Context, incomplete: str) -> list[str]:
    """The store's variables, for `reprdyn query STORE <TAB>`."""
    ds = _cube(ctx)
    return (
        [] if ds is None else sorted(v for v in map(str, ds.data_vars) if v.startswith(incomplete))
    )


def complete_dim(ctx: typer.Context, incomplete: str) -> list[str]:
    """The store's dims, for `--mean <TAB>`."""
    ds = _cube(ctx)
    return [] if ds is None else sorted(d for d in map(str, ds.dims) if d.startswith(incomplete))


def complete_sel(ctx: typer.Context, incomplete: str) -> list[str]:
    """`DIM=` for the store's dims, then `DIM=VALUE` for that dim's coordinate values."""
    ds = _cube(ctx)
    if ds is None:
        return []
    if "=" not in incomplete:
        return [f"{d}=" for d in sorted(map(str, ds.dims)) if d.startswith(incomplete)]
    dim, _, start = incomplete.partition("=")
    if dim not in ds.coords:
        return []
    values = [str(v) for v in ds[dim].values.tolist()]
    return [f"{dim}={v}" for v in values if v.startswith(start)]


def complete_template(incomplete: str) -> list[str]:
    from ..templates import TEMPLATES

    return [name for name in TEMPLATES if name.startswith(incomplete)]


SpecArg = Annotated[Path, typer.Argument(metavar="SPEC", help="a spec file (.yaml)")]
StoreArg = Annotated[Path, typer.Argument(metavar="STORE", help="a reprdyn store")]
SetOpt = Annotated[
    list[str],
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="override a value of the spec, in YAML: model.train.epochs=5, label_noise=[0,0.4], "
        "datasets[0].n_train=256 (repeatable)",
    ),
]
TrustOpt = Annotated[
    bool,
    typer.Option("--trust-code", help="allow `python` models (the spec must say trust_code: true)"),
]
EnvOpt = Annotated[
    list[str],
    typer.Option(
        "--env",
        metavar="NAME",
        help="let the spec's ${NAME} read this environment variable (repeatable; also "
        "REPRDYN_ALLOW_ENV=NAME,...)",
    ),
]
FormatOpt = Annotated[
    Format, typer.Option("--format", help="table for people, json for programs (stdout only)")
]
QueryFormatOpt = Annotated[
    QueryFormat, typer.Option("--format", help="table | csv | json (csv and json: stdout only)")
]
FigureOpt = Annotated[
    str,
    typer.Option(
        "--figure",
        "-f",
        callback=_figure,
        autocompletion=_figures,
        help="a figure the metrics declare (tab completes them; an unknown name lists them)",
    ),
]
SelOpt = Annotated[
    list[str],
    typer.Option(
        "--sel",
        metavar="DIM=VALUE",
        autocompletion=complete_sel,
        help="narrow to one value of a dim (the nearest grid value on float dims; repeatable)",
    ),
]
StoreOpt = Annotated[Path | None, typer.Option(help="store path (overrides the spec's `store`)")]
ForceOpt = Annotated[bool, typer.Option("--force", help="re-run tasks the store holds")]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="if another run holds the store, wait for it")
]
DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask",
        metavar="ADDRESS",
        help="run on this Dask scheduler, e.g. tcp://10.0.0.5:8786 (default $REPRDYN_DASK_ADDRESS; "
        "a spec cannot name one)",
    ),
]
IgnoreLimitsOpt = Annotated[
    bool,
    typer.Option(
        "--ignore-machine-limits",
        help="run even if the estimate says it needs more memory or disk than this machine has",
    ),
]
