"""Commands about stores: status, verify, ls, spec, diff."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .app import app, err, out
from .errors import handled
from .options import EnvOpt, Format, FormatOpt, StoreArg
from .output import fmt, table


@app.command()
@handled
def status(store: StoreArg, format: FormatOpt = Format.table):
    """Show which of a store's tasks are done, pending or failed."""
    from ..store import task_status

    rows = task_status(store)
    if format == Format.json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    counts = {k: sum(r["status"] == k for r in rows) for k in ("done", "pending", "failed")}
    title = (
        f"{store}: {counts['done']} done, {counts['pending']} pending, {counts['failed']} failed"
    )
    body = [[r["task"], r["key"], r["status"], r["error"] or ""] for r in rows]
    table(title, ["task", "key", "status", "error"], body)


@app.command()
@handled
def verify(
    store: StoreArg,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="drop the manifest lines of tasks whose results are missing or damaged, so the "
            "next run redoes them (and what depends on them)",
        ),
    ] = False,
):
    """Check that every task the manifest calls finished has its results in the store, and that
    they can be read; exit 1 when something disagrees."""
    from ..read.verify import verify as verify_store

    found = verify_store(store, repair)
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


@app.command("spec")
@handled
def spec_cmd(store: StoreArg):
    """Print the exact resolved spec a store was written from (re-running it reproduces the
    cube)."""
    from ..read.catalog import spec_of

    sys.stdout.write(spec_of(store))


@app.command()
@handled
def diff(
    a: Annotated[Path, typer.Argument(help="a spec file or a store")],
    b: Annotated[Path, typer.Argument(help="a spec file or a store")],
    format: FormatOpt = Format.table,
    env: EnvOpt = [],
):
    """Semantic differences between two specs or stores (fields; for stores, metrics on shared
    coords)."""
    from ..read.catalog import diff as diff_specs

    d = diff_specs(a, b, env)
    if format == Format.json:
        sys.stdout.write(json.dumps(d) + "\n")
        return
    if not d["fields"]:
        out.print("specs: no differences (same canonical spec)", highlight=False)
    for line in d["fields"]:
        out.print(f"  {line}", markup=False, highlight=False)
    if d["metrics"]:
        body = [
            [m["dataset"], m["variable"], str(m["shared"]), m["max_abs_diff"], m["mean_abs_diff"]]
            for m in d["metrics"]
        ]
        header = ["dataset", "variable", "shared", "max |Δ|", "mean |Δ|"]
        table("metrics on shared coordinates", header, body)


@app.command()
@handled
def ls(
    store: Annotated[Path, typer.Argument(help="a reprdyn store, or a folder of stores")],
    format: FormatOpt = Format.table,
):
    """Show a store's variables, dims, coords and provenance; for a folder, list the stores in
    it."""
    from ..store import read_attrs

    if store.is_dir() and read_attrs(store) is None:
        _catalog(store, format)
    elif format == Format.json:
        from ..read.reader import CubeStore

        cubes = CubeStore(store)
        listing = {
            "attrs": cubes.attrs,
            "datasets": {
                name: {
                    v: {"dims": dims, **attrs} for v, (dims, attrs) in cubes.variables(name).items()
                }
                for name in cubes.datasets
            },
        }
        sys.stdout.write(json.dumps(listing, default=str) + "\n")
    else:
        _listing(store)


def _catalog(folder: Path, format: Format) -> None:
    """Every store under a folder, with the headline chosen on validation."""
    from ..read.catalog import catalog

    rows = catalog(folder)
    if format == Format.json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    header = ["store", "name", "spec", "status", "created", "size", "best (chosen on validation)"]
    body = []
    for r in rows:
        chosen = r["best"] or {}
        best = chosen.get("test_accuracy")
        interval = chosen.get("test_accuracy_interval") or [None, None]
        at = (
            f"{fmt(best)} [{fmt(interval[0])}, {fmt(interval[1])}]"
            if None not in interval
            else fmt(best)
        )
        what = f"{chosen['what']} at σ* {fmt(chosen['best_sigma'])}: {at}" if chosen else "-"
        size = f"{r['size_bytes'] / 2**20:.1f} MiB"
        body.append(
            [r["store"], str(r["name"]), r["spec_hash"], r["status"], str(r["created"]), size, what]
        )
    table(f"{len(rows)} store(s) under {folder}", header, body)


def _listing(store: Path) -> None:
    """One store: provenance, hardware, and per dataset its variables, coordinates and features."""
    from ..read.reader import CubeStore

    cubes = CubeStore(store)
    a = cubes.attrs
    out.print(
        f"[bold]{escape(str(store))}[/bold]  spec {a.get('spec_hash', '')[:12]}  created "
        f"{a.get('created')}  reprdyn {a.get('reprdyn_version')}  commit "
        f"{str(a.get('git_commit'))[:12]}",
        highlight=False,
        markup=True,
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
        _dataset(cubes, name)


def _dataset(cubes, name: str) -> None:
    coords = cubes.coordinates(name)
    sizes = {d: len(v) for d, (dims, v) in coords.items() if dims == (d,)}
    body = [
        [v, ", ".join(f"{d}={sizes[d]}" for d in dims), attrs.get("description", "")]
        for v, (dims, attrs) in cubes.variables(name).items()
    ]
    table(f"dataset {name}: metrics", ["variable", "dims", "description"], body)
    for c, (dims, values) in coords.items():
        vals = [fmt(x) if isinstance(x, float) else str(x) for x in values.tolist()]
        ride = f" (along {dims[0]})" if dims != (c,) else ""
        more = " ..." if len(vals) > 8 else ""
        out.print(f"  {c}{ride}: {', '.join(vals[:8])}{more}", highlight=False)
    for layer in [] if cubes.sweep_dims else cubes.layers(name):
        shape = ", ".join(f"{d}={s}" for d, s in cubes.feature_sizes(name, layer).items())
        out.print(f"  features/{layer}: {shape}", highlight=False)
