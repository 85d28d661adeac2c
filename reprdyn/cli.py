"""The `reprdyn` command line: thin Typer commands over the library.

Every command that can fail on user input exits 2 with a clear message on stderr and no traceback.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import InputError, QueryError, SpecError, StoreError
from .stop import Stopped
from .templates import TEMPLATES, InitError

# the figure names, for --help without importing matplotlib (a test keeps them equal to
# plot.FIGURES)
FIGURE_NAMES = (
    "curves",
    "csnr",
    "label-noise",
    "dae-vs-diffusion",
    "generalization",
    "cka",
    "segmentation",
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Representation dynamics of diffusion models: specs -> tasks -> zarr cubes -> queries.",
)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 120)


@app.callback()
def _setup() -> None:
    """Representation dynamics of diffusion models: specs -> tasks -> zarr cubes -> queries."""
    import logging

    from rich.logging import RichHandler

    log = logging.getLogger("reprdyn")
    if not log.handlers:
        log.addHandler(RichHandler(console=err, show_path=False, markup=False))
        log.setLevel(logging.INFO)
        log.propagate = False


def _row(table: Table, *cells) -> None:
    """Add a row whose text is shown as it is: `[n_train=8]` is a sweep point, not Rich markup."""
    table.add_row(*(escape(c) if isinstance(c, str) else c for c in cells))


class UserError(Exception):
    """Bad input: printed as-is, exit code 2."""


def _terminate(signum, frame):
    """SIGTERM: ask the run to stop at the next safe point (between tasks or training steps). A
    run that reaches none within the grace period (a long allocation, a stuck read), or a second
    SIGTERM, ends the process at once: a task cut in half is never in the manifest, so nothing
    finished is lost."""
    from . import stop

    stop.request(_exit_now)


def _exit_now() -> None:
    err.print(
        "terminated (SIGTERM) outside a safe point; finished tasks are kept in the store, run "
        "again to resume",
        markup=False,
        highlight=False,
    )
    os._exit(143)


def _fail(lines: list[str] | str, code: int = 2):
    for line in [lines] if isinstance(lines, str) else lines:
        err.print(line, markup=False, highlight=False)
    raise typer.Exit(code)


def handled(fn):
    """Turn known errors into a clear message on stderr and exit 2; unknown ones into one line,
    exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except SpecError as e:
            _fail([str(i) for i in e.issues])
        except InputError as e:
            if e.at is not None and _SPEC_FILE:  # at the spec field it concerns
                from .spec.loader import locate

                _fail(str(locate(_SPEC_FILE[0], e.at, str(e))))
            _fail(f"error: {e}")
        except (StoreError, QueryError, UserError) as e:
            _fail(f"error: {e}")
        except Stopped:
            _fail(
                "terminated (SIGTERM); finished tasks are kept in the store, run again to resume",
                143,
            )
        except KeyboardInterrupt:
            _fail("interrupted; finished tasks are kept in the store, run again to resume", 130)
        except Exception as e:  # noqa: BLE001 - the user sees one line, not a traceback
            if os.environ.get("REPRDYN_DEBUG"):
                raise
            _fail(f"error: {type(e).__name__}: {e} (set REPRDYN_DEBUG=1 for the traceback)", 1)

    return wrapper


TRUST = typer.Option(
    False, "--trust-code", help="allow `python` models (the spec must say trust_code: true)"
)


_SPEC_FILE: list[Path] = []  # the spec this command loaded, to position errors found later


def _load(path: Path, overrides: list[str] = (), trust: bool = False):
    """The spec, its text as written (plus the --set lines) and the texts of the bases it
    extends."""
    from .spec import load

    _SPEC_FILE[:] = [path]
    spec, sources = load(path, overrides, trust)
    text = sources.pop(str(path))
    if overrides:  # the store keeps the spec as written plus what the command line changed
        text += "".join(f"\n# --set {o}" for o in overrides) + "\n"
    return spec, text, sources


@app.command()
@handled
def validate(
    specs: list[Path] = typer.Argument(..., help="spec files"),
    set_: list[str] = typer.Option(
        [], "--set", help="override PATH=VALUE, e.g. model.train.epochs=5 or label_noise=[0,0.4]"
    ),
    trust: bool = TRUST,
):
    """Check specs; report every error at once as file:line:col: field: message."""
    from .spec import load_spec

    problems = []
    for path in specs:
        try:
            load_spec(path, set_, trust)
            err.print(f"{path}: ok", highlight=False)
        except SpecError as e:
            problems += [str(i) for i in e.issues]
    if problems:
        _fail(problems)


@app.command()
@handled
def schema():
    """Print the JSON Schema of a spec."""
    from .spec import Spec

    sys.stdout.write(json.dumps(Spec.model_json_schema(), indent=2) + "\n")


@app.command()
@handled
def init(
    path: Path | None = typer.Argument(
        None, help="the spec file (or folder) to write; default <template>.yaml here"
    ),
    template: str = typer.Option(
        "molrg-theory", "--template", "-t", help=f"one of: {', '.join(TEMPLATES)}"
    ),
    list_: bool = typer.Option(False, "--list", help="list the templates and exit"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing spec file"),
):
    """Write a commented starter spec, with the JSON Schema line editors use for completion."""
    if list_:
        width = max(map(len, TEMPLATES))
        for name, what in TEMPLATES.items():
            out.print(f"{name:{width}}  {what}", highlight=False)
        return
    from .templates import init as init_spec

    try:
        written = init_spec(template, path, force)
    except InitError as e:
        raise UserError(str(e)) from None
    for f in written:
        err.print(f"wrote {f}", highlight=False)
    err.print(f"next: reprdyn validate {written[0]} && reprdyn run {written[0]}", highlight=False)


@app.command()
@handled
def plan(
    spec_file: Path = typer.Argument(..., metavar="SPEC"),
    store: Path | None = typer.Option(None, help="store to compare against (default: the spec's)"),
    set_: list[str] = typer.Option(
        [], "--set", help="override PATH=VALUE, e.g. model.train.epochs=5 or label_noise=[0,0.4]"
    ),
    trust: bool = TRUST,
):
    """Show the compiled tasks and which of them the store already holds."""
    from .runner import plan_status

    spec, _, _ = _load(spec_file, set_, trust)
    rows = plan_status(spec, store)
    table = Table(title=f"{spec.name}: {len(rows)} tasks")
    for col in ("#", "stage", "dataset", "params", "key", "status"):
        table.add_column(col)
    for i, (t, status) in enumerate(rows):
        _row(
            table,
            str(i),
            t.stage,
            t.dataset,
            " ".join(f"{k}={_fmt(v)}" for k, v in t.items() if v not in ("", None)),
            t.key,
            status,
        )
    out.print(table)


@app.command()
@handled
def run(
    spec_file: Path = typer.Argument(..., metavar="SPEC"),
    store: Path | None = typer.Option(None, help="store path (overrides the spec's `store`)"),
    force: bool = typer.Option(False, "--force", help="re-run tasks the store already holds"),
    wait: bool = typer.Option(False, "--wait", help="if another run holds the store, wait for it"),
    json_out: bool = typer.Option(
        False, "--json", help="print the summary as JSON on stdout, nothing else"
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="override PATH=VALUE, e.g. label_noise=[0,0.4]"
    ),
    dask: str | None = typer.Option(
        None,
        "--dask",
        metavar="ADDRESS",
        help="run on this Dask scheduler, e.g. tcp://10.0.0.5:8786 "
        "(default $REPRDYN_DASK_ADDRESS; a spec cannot name one)",
    ),
    ignore_limits: bool = typer.Option(
        False,
        "--ignore-machine-limits",
        help="run even if the estimate says it needs more memory or disk than this machine has",
    ),
    trust: bool = TRUST,
):
    """Run a spec's tasks into its store, then print a summary."""
    from .runner import TasksFailed
    from .runner import run as run_spec
    from .summary import compare, summarize_segmentation, summary_json

    spec, text, bases = _load(spec_file, set_, trust)
    path = str(store or spec.store_path)
    signal.signal(signal.SIGTERM, _terminate)  # like Ctrl-C: finished tasks stay, the lock goes
    with _reporter() as report:
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
    if json_out:
        result = {"store": path, "summary": json.loads(summary_json(rows)), "failed": failures}
        if seg:
            result["segmentation"] = json.loads(summary_json(seg))
        if diffs:
            result["comparisons"] = json.loads(summary_json(diffs))
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        _summary(rows, path, seg, diffs)
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


@app.command()
@handled
def status(
    store: Path = typer.Argument(..., help="a reprdyn store"),
    json_out: bool = typer.Option(False, "--json", help="JSON on stdout"),
):
    """Show which of a store's tasks are done, pending or failed."""
    from .store import task_status

    rows = task_status(store)
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    counts = {k: sum(r["status"] == k for r in rows) for k in ("done", "pending", "failed")}
    table = Table(
        title=f"{store}: {counts['done']} done, {counts['pending']} pending, "
        f"{counts['failed']} failed"
    )
    for col in ("task", "key", "status", "error"):
        table.add_column(col)
    for r in rows:
        _row(table, r["task"], r["key"], r["status"], r["error"] or "")
    out.print(table)


@app.command("verify")
@handled
def verify_cmd(
    store: Path = typer.Argument(..., help="a reprdyn store"),
    repair: bool = typer.Option(
        False,
        "--repair",
        help="drop the manifest lines of tasks whose results are missing or damaged, so the next "
        "run redoes them (and what depends on them)",
    ),
):
    """Check that every task the manifest calls finished has its results in the store, and that
    they can be read; exit 1 when something disagrees."""
    from .verify import verify

    found = verify(store, repair)
    for f in found:
        err.print(f"{f.where}: {f.problem}", markup=False, highlight=False)
    if not found:
        out.print(f"{store}: every finished task's results are in the store", highlight=False)
        return
    if repair:
        err.print(
            f"{len(found)} problem(s); the manifest now lists only tasks whose results check out: "
            "run the spec again to redo the rest",
            markup=False,
            highlight=False,
        )
        return
    err.print(
        f"{len(found)} problem(s); `reprdyn verify {store} --repair` lets the next run redo them",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(1)


class _Reporter:
    """Progress per stage: rich bars with totals and ETA on a terminal, plain log lines
    otherwise."""

    def __init__(self):
        self.live = err.is_terminal
        self.progress = _progress() if self.live else None
        self.bars: dict[str, int] = {}
        self.train = _train_bar(self.progress) if self.live else None

    def __enter__(self) -> _Reporter:
        if self.progress:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress:
            self.progress.__exit__(*exc)

    def plan(self, tasks) -> None:
        """The tasks about to run: each stage's bar gets its total (sweep points add to it)."""
        counts: dict[str, int] = {}
        for t in tasks:
            counts[t.stage] = counts.get(t.stage, 0) + 1
        if not self.live:
            _log(
                f"{len(tasks)} task(s) to run: " + ", ".join(f"{n} {s}" for s, n in counts.items())
            )
            return
        for stage, n in counts.items():
            if stage in self.bars:
                bar = self.bars[stage]
                self.progress.update(bar, total=self.progress.tasks[bar].total + n)
            else:
                self.bars[stage] = self.progress.add_task(stage, total=n)

    def start(self, task) -> None:
        if not self.live:
            _log(f"start {task.label}")
        elif task.stage not in self.bars:
            self.bars[task.stage] = self.progress.add_task(task.stage, total=None)

    def done(self, task) -> None:
        if self.live:
            self.progress.advance(self.bars[task.stage])
        else:
            _log(f"done  {task.label}")

    def wait(self, message: str) -> None:
        _log(message)

    def train_step(self, label: str, i: int, total: int, loss: float) -> None:
        if self.live:
            self.train(label, i, total, loss)
        elif i == total or i % max(total // 10, 1) == 0:
            _log(f"train {label}: step {i}/{total} loss {loss:.4g}")


def _log(msg: str) -> None:
    import datetime as dt

    err.print(f"{dt.datetime.now().strftime('%H:%M:%S')} {msg}", markup=False, highlight=False)


def _reporter() -> _Reporter:
    return _Reporter()


def _train_bar(progress):
    """A progress callback that shows the running training loss on its own bar."""
    state: dict[str, int] = {}

    def step(label: str, i: int, total: int, loss: float) -> None:
        if label not in state:
            state[label] = progress.add_task(label, total=total)
        progress.update(state[label], completed=i, description=f"{label} loss {loss:.4g}")

    return step


@app.command()
@handled
def train(spec_file: Path = typer.Argument(..., metavar="SPEC"), trust: bool = TRUST):
    """Train every model the spec needs (or find it in the checkpoint cache)."""
    from .runner import train as train_spec

    spec, _, _ = _load(spec_file, trust=trust)
    with _progress() as progress:
        done = train_spec(spec, on_train_step=_train_bar(progress))
    if not done:
        err.print("this spec trains nothing (its model needs no training)")
    for task, path, trained in done:
        out.print(
            f"{task.label}: {'trained' if trained else 'cached'} {path}",
            highlight=False,
            markup=False,
        )


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


SUMMARY_TITLE = (
    "summary at the lowest label noise: σ* is chosen on validation ([spread]: where resampling "
    "moves it); acc@σ*, the ensemble and its gain are test accuracy, means over replicates and "
    "seeds; the test-curve peak only describes the curve"
)
SEGMENTATION_TITLE = (
    "segmentation at the lowest label noise: σ* is chosen on validation mIoU; mIoU@σ* is test mIoU "
    "(mean over replicates and seeds); the test-curve peak only describes the curve"
)
COMPARISON_TITLE = (
    "paired differences at the lowest label noise: '> 0' or '< 0' where the interval excludes 0"
)


def _summary(rows: list, path: str, seg: list | None = None, diffs: list | None = None) -> None:
    from .summary import (
        ACCURACY_COLUMNS,
        COMPARISON_COLUMNS,
        SEGMENTATION_COLUMNS,
        interval_note,
        store_settings,
    )

    confidence, resamples = store_settings(path)
    if rows:
        _table(SUMMARY_TITLE, rows, "layer", ACCURACY_COLUMNS)
    if seg:
        _table(SEGMENTATION_TITLE, seg, "dense set", SEGMENTATION_COLUMNS)
    if diffs:
        _table(COMPARISON_TITLE, diffs, "layer", COMPARISON_COLUMNS)
    if rows or seg:
        out.print(interval_note(rows or seg, confidence, resamples), highlight=False)
    out.print(f"store: {path}", highlight=False)
    what = "accuracy" if rows or not seg else "miou"
    out.print(f"query: reprdyn query {path} {what} --format csv", highlight=False)


def _table(title: str, rows: list, layer: str, columns: tuple) -> None:
    """One summary table: the row's coordinates (point and model only when they vary), then each
    column's cell."""
    from .summary import lead_cells, lead_columns

    table = Table(title=escape(title))
    names = lead_columns(rows, layer)
    for col in names:
        table.add_column(col, justify="left")
    for col, _ in columns:
        table.add_column(escape(col), justify="right")
    for r in rows:
        _row(table, *lead_cells(r, names), *(cell(r) for _, cell in columns))
    out.print(table)


def _with_interval(value: float, bounds: list) -> str:
    """0.584 [0.571, 0.595]; the value alone without an interval."""
    if None in bounds:
        return _fmt(value)
    return f"{value:.4g} [{bounds[0]:.3g}, {bounds[1]:.3g}]"


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@app.command()
@handled
def layers(spec_file: Path = typer.Argument(..., metavar="SPEC"), trust: bool = TRUST):
    """List every hookable layer of the model(s) with its output shape (spatial maps are pooled to
    C)."""
    from .runner import describe_layers

    spec, _, _ = _load(spec_file, trust=trust)
    for model, shapes in describe_layers(spec).items():
        table = Table(title=f"layers of {model} (on dataset {spec.datasets[0].name})")
        table.add_column("layer")
        table.add_column("output shape")
        table.add_column("probed as")
        for layer, shape in shapes.items():
            _row(table, layer, str(shape), f"(B, {shape[0]})")
        out.print(table)


@app.command("spec")
@handled
def spec_cmd(store: Path = typer.Argument(..., help="a reprdyn store")):
    """Print the exact resolved spec a store was written from (re-running it reproduces the
    cube)."""
    from .catalog import spec_of

    sys.stdout.write(spec_of(store))


@app.command("diff")
@handled
def diff_cmd(
    a: Path = typer.Argument(..., help="a spec file or a store"),
    b: Path = typer.Argument(..., help="a spec file or a store"),
    json_out: bool = typer.Option(False, "--json", help="JSON on stdout"),
):
    """Semantic differences between two specs or stores (fields; for stores, metrics on shared
    coords)."""
    from .catalog import diff as diff_specs

    d = diff_specs(a, b)
    if json_out:
        sys.stdout.write(json.dumps(d) + "\n")
        return
    if not d["fields"]:
        out.print("specs: no differences (same canonical spec)", highlight=False)
    for line in d["fields"]:
        out.print(f"  {line}", markup=False, highlight=False)
    if d["metrics"]:
        table = Table(title="metrics on shared coordinates")
        for col in ("dataset", "variable", "shared", "max |Δ|", "mean |Δ|"):
            table.add_column(col)
        for m in d["metrics"]:
            _row(
                table,
                m["dataset"],
                m["variable"],
                str(m["shared"]),
                f"{m['max_abs_diff']:.4g}",
                f"{m['mean_abs_diff']:.4g}",
            )
        out.print(table)


@app.command("ls")
@handled
def ls(
    store: Path = typer.Argument(..., help="a reprdyn store, or a folder of stores"),
    format: str = typer.Option("table", "--format", help="table | json (for a folder of stores)"),
):
    """Show a store's variables, dims, coords and provenance; for a folder, list the stores in
    it."""
    from .reader import CubeStore
    from .store import read_attrs

    if store.is_dir() and read_attrs(store) is None:
        from .catalog import catalog

        rows = catalog(store)
        if format == "json":
            sys.stdout.write(json.dumps(rows) + "\n")
            return
        table = Table(title=f"{len(rows)} store(s) under {store}")
        for col in (
            "store",
            "name",
            "spec",
            "status",
            "created",
            "size",
            "best (chosen on validation)",
            "σ*",
            "test acc@σ*",
        ):
            table.add_column(col)
        for r in rows:
            chosen = r["best"]
            _row(
                table,
                r["store"],
                str(r["name"]),
                r["spec_hash"],
                r["status"],
                str(r["created"]),
                f"{r['size_bytes'] / 2**20:.1f} MiB",
                chosen["what"] if chosen else "-",
                _fmt(chosen["best_sigma"]) if chosen else "-",
                _with_interval(chosen["test_accuracy"], chosen["test_accuracy_interval"])
                if chosen
                else "-",
            )
        out.print(table)
        return
    cubes = CubeStore(store)
    a = cubes.attrs
    out.print(
        f"[bold]{escape(str(store))}[/bold]  spec {a.get('spec_hash', '')[:12]}  created "
        f"{a.get('created')}  reprdyn {a.get('reprdyn_version')}  commit "
        f"{str(a.get('git_commit'))[:12]}",
        highlight=False,
    )
    hw = a.get("hardware") or {}
    if hw:
        gpus = ", ".join(hw.get("gpus") or []) or "none"
        out.print(
            f"  computed on {hw.get('machine')} ({hw.get('cpu_capability')}), GPUs: {gpus}, torch "
            f"{hw.get('torch')}; results are bit-identical only on the same hardware and software",
            highlight=False,
        )
    if cubes.sweep_dims:
        out.print(
            f"  a sweep over {', '.join(cubes.sweep_dims)}: {len(cubes.points)} point(s) so far",
            highlight=False,
        )
    for name in cubes.datasets:
        coords = cubes.coordinates(name)
        sizes = {d: len(v) for d, (dims, v) in coords.items() if dims == (d,)}
        table = Table(title=f"dataset {name}: metrics")
        for col in ("variable", "dims", "description"):
            table.add_column(col)
        for v, (dims, attrs) in cubes.variables(name).items():
            _row(table, v, ", ".join(f"{d}={sizes[d]}" for d in dims), attrs.get("description", ""))
        out.print(table)
        for c, (dims, values) in coords.items():
            vals = [_fmt(x) if isinstance(x, float) else str(x) for x in values.tolist()]
            ride = f" (along {dims[0]})" if dims != (c,) else ""
            out.print(
                f"  {c}{ride}: {', '.join(vals[:8])}{' ...' if len(vals) > 8 else ''}",
                highlight=False,
            )
        for layer in cubes.layers(name):
            if not cubes.sweep_dims:
                sizes_f = cubes.feature_sizes(name, layer)
                out.print(
                    f"  features/{layer}: " + ", ".join(f"{d}={s}" for d, s in sizes_f.items()),
                    highlight=False,
                )


@app.command("plot")
@handled
def plot_cmd(
    store: Path = typer.Argument(..., help="a reprdyn store"),
    figure: str = typer.Option(..., "--figure", "-f", help="one of: " + ", ".join(FIGURE_NAMES)),
    out_file: Path = typer.Option(..., "--out", "-o", help="the file to write: .png, .svg or .pdf"),
    dataset: str | None = typer.Option(None, help="the dataset to plot (default: the first)"),
    sel: list[str] = typer.Option(
        [], help="DIM=VALUE: draw only this part of the store, e.g. layer=mid or n_train=1024"
    ),
):
    """Write a figure read from a store."""
    from .plot import write as write_figure

    written = write_figure(store, figure, out_file, dataset, tuple(sel))
    err.print(f"wrote {written}", highlight=False)


@app.command("report")
@handled
def report_cmd(
    store: Path = typer.Argument(..., help="a reprdyn store"),
    out_file: Path = typer.Option(..., "--out", "-o", help="the .html file to write"),
):
    """Write one self-contained HTML report: summary, figures, spec and provenance."""
    from .report import write as write_report

    err.print(f"wrote {write_report(store, out_file)}", highlight=False)


@app.command("query")
@handled
def query_cmd(
    store: Path = typer.Argument(..., help="a reprdyn store"),
    var: str = typer.Argument(..., help="variable, e.g. accuracy, csnr, csnr_theory"),
    dataset: str | None = typer.Option(None, help="one dataset (default: all)"),
    sel: list[str] = typer.Option([], help="DIM=VALUE; nearest grid value on float coords"),
    mean: list[str] = typer.Option([], help="average over DIM"),
    format: str = typer.Option("table", "--format", help="table | csv | json"),
    keep_nan: bool = typer.Option(False, "--keep-nan", help="keep rows with no value (NaN)"),
):
    """Print a tidy table of one variable: a column per remaining dim, then the value."""
    from .query import query

    if format not in ("table", "csv", "json"):
        raise UserError(f"--format {format}: expected one of table, csv, json")
    result = query(str(store), var, dataset=dataset, sel=sel, mean=mean, keep_nan=keep_nan)
    for note in result.notes:
        err.print(note, markup=False, highlight=False)
    if format == "csv":
        sys.stdout.write(result.to_csv())
    elif format == "json":
        sys.stdout.write(result.to_json() + "\n")
    else:
        table = Table()
        numeric = [
            all(isinstance(r[i], (int, float)) for r in result.rows) and result.rows
            for i in range(len(result.columns))
        ]
        for col, num in zip(result.columns, numeric):
            table.add_column(str(col), justify="right" if num else "left")
        for row in result.rows:
            _row(table, *[_fmt(v) if isinstance(v, float) else str(v) for v in row])
        out.print(table)


def main() -> None:
    """Console entry point."""
    app()
