"""`reprdyn run`: a spec's tasks into its store, then the summary."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from .app import app, err
from .errors import handled, load
from .options import Format, FormatOpt, SetOpt, SpecArg, TrustOpt
from .output import Reporter, summary


def _terminate(signum, frame):
    """SIGTERM: ask the run to stop at the next safe point (between tasks or training steps). A
    run that reaches none within the grace period (a long allocation, a stuck read), or a second
    SIGTERM, ends the process at once: a task cut in half is never in the manifest, so nothing
    finished is lost."""
    from .. import stop

    stop.request(_exit_now)


def _exit_now() -> None:
    err.print(
        "terminated (SIGTERM) outside a safe point; finished tasks are kept in the store, run "
        "again to resume",
        markup=False,
        highlight=False,
    )
    os._exit(143)


@app.command()
@handled
def run(
    spec_file: SpecArg,
    store: Annotated[
        Path | None, typer.Option(help="store path (overrides the spec's `store`)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="re-run tasks the store holds")] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="if another run holds the store, wait for it")
    ] = False,
    format: FormatOpt = Format.table,
    set_: SetOpt = [],
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            metavar="ADDRESS",
            help="run on this Dask scheduler, e.g. tcp://10.0.0.5:8786 (default "
            "$REPRDYN_DASK_ADDRESS; a spec cannot name one)",
        ),
    ] = None,
    ignore_limits: Annotated[
        bool,
        typer.Option(
            "--ignore-machine-limits",
            help="run even if the estimate says it needs more memory or disk than this machine has",
        ),
    ] = False,
    trust: TrustOpt = False,
):
    """Run a spec's tasks into its store, then print a summary."""
    spec, text, bases = load(spec_file, set_, trust)  # a typo is reported before torch loads
    from ..runner import TasksFailed
    from ..runner import run as run_spec
    from ..summary import compare, summarize_segmentation, summary_json

    path = str(store or spec.store_path)
    signal.signal(signal.SIGTERM, _terminate)  # like Ctrl-C: finished tasks stay, the lock goes
    with Reporter() as report:
        try:
            rows = run_spec(
                spec,
                store=path,
                spec_text=text,
                spec_bases=bases,
                on_done=report.done,
                force=force,
                on_train_step=report.train_step,
                on_start=report.start,
                wait=wait,
                dask=dask,
                on_plan=report.plan,
                on_wait=report.wait,
                ignore_machine_limits=ignore_limits,
            )
            failures = []
        except TasksFailed as e:
            rows, failures = e.summary, e.failures
    seg = summarize_segmentation(path) if "miou" in spec.metrics else []
    diffs = compare(path) if rows else []
    if format == Format.json:
        result = {"store": path, "summary": json.loads(summary_json(rows)), "failed": failures}
        if seg:
            result["segmentation"] = json.loads(summary_json(seg))
        if diffs:
            result["comparisons"] = json.loads(summary_json(diffs))
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        summary(path, rows, seg, diffs)
    if failures:
        for f in failures:
            err.print(f"failed: {f['task']}: {f['error']}", markup=False, highlight=False)
        err.print(
            f"{len(failures)} task(s) failed; the others are in the store. `reprdyn status {path}` "
            "lists them; run again to retry them.",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)
