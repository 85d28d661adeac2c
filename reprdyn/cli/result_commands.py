"""Commands that read results: query, plot, report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .app import app, err
from .errors import handled
from .options import FigureOpt, QueryFormat, QueryFormatOpt, SelOpt, StoreArg
from .output import fmt, table


@app.command()
@handled
def query(
    store: StoreArg,
    var: Annotated[str, typer.Argument(help="variable, e.g. accuracy, csnr, best_accuracy_ci")],
    dataset: Annotated[str | None, typer.Option(help="one dataset (default: all)")] = None,
    sel: SelOpt = [],
    mean: Annotated[
        list[str], typer.Option("--mean", metavar="DIM", help="average over DIM (repeatable)")
    ] = [],
    format: QueryFormatOpt = QueryFormat.table,
    keep_nan: Annotated[
        bool, typer.Option("--keep-nan", help="keep rows with no value (NaN)")
    ] = False,
):
    """Print a tidy table of one variable: a column per remaining dim, then the value."""
    from ..query import query as query_store

    result = query_store(str(store), var, dataset=dataset, sel=sel, mean=mean, keep_nan=keep_nan)
    for note in result.notes:
        err.print(note, markup=False, highlight=False)
    if format == QueryFormat.csv:
        sys.stdout.write(result.to_csv())
    elif format == QueryFormat.json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        numeric = [
            bool(result.rows) and all(isinstance(r[i], (int, float)) for r in result.rows)
            for i in range(len(result.columns))
        ]
        first = numeric.index(True) if True in numeric else None
        rows = [[fmt(v) if isinstance(v, float) else str(v) for v in r] for r in result.rows]
        table(None, [str(c) for c in result.columns], rows, right=first)


@app.command()
@handled
def plot(
    store: StoreArg,
    figure: FigureOpt,
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="the file to write: .png, .svg or .pdf")
    ],
    dataset: Annotated[
        str | None, typer.Option(help="the dataset to plot (default: the first)")
    ] = None,
    sel: SelOpt = [],
):
    """Write a figure read from a store."""
    from ..plot import write as write_figure

    written = write_figure(store, figure, out_file, dataset, tuple(sel))
    err.print(f"wrote {written}", highlight=False)


@app.command()
@handled
def report(
    store: StoreArg,
    out_file: Annotated[Path, typer.Option("--out", "-o", help="the .html file to write")],
):
    """Write one self-contained HTML report: summary, figures, spec and provenance."""
    from ..report import write as write_report

    err.print(f"wrote {write_report(store, out_file)}", highlight=False)
