"""`reprdyn run`: a spec's tasks into its store, then the summary."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from .app import app, err
from .errors import handled, load, stop_on_sigterm
from .options import (
    DaskOpt,
    EnvOpt,
    ForceOpt,
    Format,
    FormatOpt,
    IgnoreLimitsOpt,
    SetOpt,
    SpecArg,
    StoreOpt,
    TrustOpt,
    WaitOpt,
)
from .output import Reporter, summary


@app.command()
@handled
def run(
    spec_file: SpecArg,
    store: StoreOpt = None,
    force: ForceOpt = False,
    wait: WaitOpt = False,
    format: FormatOpt = Format.table,
    set_: SetOpt = [],
    dask: DaskOpt = None,
    ignore_limits: IgnoreLimitsOpt = False,
    trust: TrustOpt = False,
    env: EnvOpt = [],
    wide: Annotated[
        bool, typer.Option("--wide", help="one summary table with every column, however wide")
    ] = False,
):
    """Run a spec's tasks into its store, then print a summary that fits the terminal."""
    spec, text, bases = load(spec_file, set_, trust, env)  # a typo is reported before torch loads
    from ..runner import RunOptions, TasksFailed
    from ..runner import run as run_spec

    path = str(store or spec.store_path)
    stop_on_sigterm()  # like Ctrl-C: finished tasks stay, the lock goes
    with Reporter() as report:
        try:
            rows, failures = (
                run_spec(
                    spec,
                    store=path,
                    options=RunOptions(
                        spec_text=text,
                        spec_bases=bases,
                        force=force,
                        wait=wait,
                        dask=dask,
                        ignore_machine_limits=ignore_limits,
                        hooks=report.hooks(),
                    ),
                ),
                [],
            )
        except TasksFailed as e:
            rows, failures = e.summary, e.failures
    _print_result(spec, path, rows, failures, format, wide)
    if failures:
        _report_failures(path, failures)
        raise typer.Exit(1)


def _print_result(
    spec, path: str, rows: list, failures: list[dict], format: Format, wide: bool = False
) -> None:
    """The summary: tables, or one JSON object on stdout."""
    from .. import metrics
    from ..read.summary import compare, summary_json, table_rows

    ran = {m.name for m in metrics.effective(spec)}
    shown = [  # the headline table's rows are the run's; the other metrics' tables where they ran
        (t, rows if i == 0 else table_rows(path, t) if m.name in ran else [])
        for i, (m, t) in enumerate(metrics.tables())
        if format == Format.json or not t.per_dataset  # JSON has room for the per-dataset ones
    ]
    diffs = compare(path) if rows else []
    if format != Format.json:
        summary(path, shown, diffs, wide)
        return
    result = {"store": path, "summary": json.loads(summary_json(rows)), "failed": failures}
    for t, these in shown[1:]:
        if these:
            result[t.key] = json.loads(summary_json(these))
    if diffs:
        result["comparisons"] = json.loads(summary_json(diffs))
    sys.stdout.write(json.dumps(result) + "\n")


def _report_failures(path: str, failures: list[dict]) -> None:
    for f in failures:
        err.print(f"failed: {f['task']}: {f['error']}", markup=False, highlight=False)
    err.print(
        f"{len(failures)} task(s) failed; the others are in the store. `reprdyn status {path}` "
        "lists them; run again to retry them.",
        markup=False,
        highlight=False,
    )
