"""Commands that read results: query, plot, report, export."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..export import TRACKERS
from .app import app, err
from .errors import handled
from .options import (
    FigureOpt,
    Format,
    FormatOpt,
    QueryFormat,
    QueryFormatOpt,
    SelOpt,
    StoreArg,
    complete_dim,
    complete_var,
)
from .output import fmt, table


@app.command()
@handled
def query(
    store: StoreArg,
    var: Annotated[
        str,
        typer.Argument(
            help="variable, e.g. accuracy, csnr, best_accuracy_ci", autocompletion=complete_var
        ),
    ],
    dataset: Annotated[str | None, typer.Option(help="one dataset (default: all)")] = None,
    sel: SelOpt = [],
    mean: Annotated[
        list[str],
        typer.Option(
            "--mean",
            metavar="DIM",
            help="average over DIM (repeatable)",
            autocompletion=complete_dim,
        ),
    ] = [],
    format: QueryFormatOpt = QueryFormat.table,
    keep_nan: Annotated[
        bool, typer.Option("--keep-nan", help="keep rows with no value (NaN)")
    ] = False,
):
    """Print a tidy table of one variable: a column per remaining dim, then the value."""
    from ..read.query import query as query_store

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
    from ..read.report import write as write_report

    err.print(f"wrote {write_report(store, out_file)}", highlight=False)


Tracker = Enum("Tracker", {name: name for name in TRACKERS}, type=str)  # from the one table


@app.command()
@handled
def export(
    store: StoreArg,
    to: Annotated[Tracker, typer.Option("--to", help="the tracker to write to")],
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="where the tracker keeps runs: sqlite:///mlflow.db, http://host:5000 (default "
            "$MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in this folder)"
        ),
    ] = None,
    experiment: Annotated[
        str | None, typer.Option(help="the experiment to add runs to (default: the spec's name)")
    ] = None,
    artifact_location: Annotated[
        str | None,
        typer.Option(help="where a new experiment keeps its artifacts (default: the tracker's)"),
    ] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="export a store whose run has not finished")
    ] = False,
    format: FormatOpt = Format.table,
):
    """Write a store's results to an experiment tracker: a run for the store (spec, provenance,
    summary, figures) and one per (dataset, model, layer, input, probe) cell, its curves stepped
    by the sigma index. Exporting again adds only what is missing."""
    from ..export import export as export_store

    result = export_store(
        store,
        to.value,
        tracking_uri=tracking_uri,
        experiment=experiment,
        artifact_location=artifact_location,
        partial=partial,
    )
    if format == Format.json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    err.print(
        f"{result['tracker']} {result['tracking_uri']}: experiment {result['experiment']!r}, "
        f"store run {result['run_id']} ({result['store_run']}), {result['cells_written']} cell "
        f"run(s) written, {result['cells_found']} already there",
        markup=False,
        highlight=False,
    )
