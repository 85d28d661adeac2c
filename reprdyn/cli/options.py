"""The options several commands share, declared once as `Annotated` aliases; choices are Enums, so
help and completion list them."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import did_you_mean
from ..figures import FIGURES


class Format(str, Enum):
    """How a command prints what it found: a table for people, or data."""

    table = "table"
    json = "json"


class QueryFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _figure(value: str | None) -> str | None:
    if value is not None and value not in FIGURES:
        raise typer.BadParameter(
            f"unknown figure {value!r}; expected one of {', '.join(FIGURES)}"
            + did_you_mean(value, FIGURES)
        )
    return value


def _figures(incomplete: str) -> list[str]:
    return [name for name in FIGURES if name.startswith(incomplete)]


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
        help="one of: " + ", ".join(FIGURES),
    ),
]
SelOpt = Annotated[
    list[str],
    typer.Option(
        "--sel",
        metavar="DIM=VALUE",
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
