"""Commands about specs: validate, schema, init, plan, layers, train."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SpecError
from ..templates import TEMPLATES, InitError
from ..templates import grants as template_grants
from .app import app, err, out
from .errors import UserError, fail, handled, load, shown, stop_on_sigterm
from .options import EnvOpt, Format, FormatOpt, SetOpt, SpecArg, TrustOpt, complete_template
from .output import fmt, progress_bars, table, train_bar


@app.command()
@handled
def validate(
    specs: Annotated[list[Path], typer.Argument(metavar="SPEC...", help="spec files")],
    set_: SetOpt = [],
    trust: TrustOpt = False,
    env: EnvOpt = [],
    format: FormatOpt = Format.table,
):
    """Check specs; report every error at once as file:line:col: field: message. A valid spec's
    footprint follows: the files it reads, the hub ids it loads, the folders it writes, the
    environment variables it reads and the code it runs."""
    from ..spec import load
    from ..spec.footprint import footprint

    problems, results = [], []
    for path in specs:
        try:
            spec, sources = load(path, set_, trust, allow_env=env)
        except SpecError as e:
            problems += shown(e.issues)
            results.append({"spec": str(path), "ok": False, "errors": [str(i) for i in e.issues]})
            continue
        touches = footprint(path, spec, sources).as_dict()
        results.append({"spec": str(path), "ok": True, "touches": touches})
        if format == Format.table:
            err.print(f"{path}: ok", highlight=False)
            _print_footprint(touches)
    if format == Format.json:
        sys.stdout.write(json.dumps(results) + "\n")
        if problems:
            raise typer.Exit(2)
    if problems:
        fail(problems)


def _print_footprint(touches: dict) -> None:
    rows = [
        ("reads", touches["reads"]),
        ("hub", touches["hub"]),
        ("writes", touches["writes"]),
        ("env", touches["env"]),
        ("runs code", touches["code"]),
    ]
    for name, items in rows:
        for i, item in enumerate(items or ["nothing"]):
            err.print(f"  {name if i == 0 else '':9} {item}", highlight=False, markup=False)


@app.command()
@handled
def schema(
    base: Annotated[
        bool, typer.Option("--base", help="the schema of a base file that specs `extends`")
    ] = False,
):
    """Print the JSON Schema of a spec (draft 2020-12, for editors and validators), or with
    --base that of a base file (a partial spec: nothing required)."""
    from ..spec.jsonschema import export, export_base

    sys.stdout.write(json.dumps(export_base() if base else export(), indent=2) + "\n")


@app.command()
@handled
def init(
    path: Annotated[
        Path | None,
        typer.Argument(help="the spec file (or folder) to write; default <template>.yaml here"),
    ] = None,
    template: Annotated[
        str,
        typer.Option(
            "--template",
            "-t",
            help=f"one of: {', '.join(TEMPLATES)}",
            autocompletion=complete_template,
        ),
    ] = "molrg-theory",
    list_: Annotated[bool, typer.Option("--list", help="list the templates and exit")] = False,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing spec file")] = False,
):
    """Write a commented starter spec, with the JSON Schema line editors use for completion."""
    if list_:
        width = max(map(len, TEMPLATES))
        for name, what in TEMPLATES.items():
            out.print(f"{name:{width}}  {what}", highlight=False)
        return
    from ..templates import init as init_spec

    try:
        written = init_spec(template, path, force)
    except InitError as e:
        raise UserError(str(e)) from None
    for f in written:
        err.print(f"wrote {f}", highlight=False)
    grants = "".join(f" {w}" for w in template_grants(Path(written[0]).read_text()))
    err.print(
        f"next: reprdyn validate {written[0]}{grants} && reprdyn run {written[0]}{grants}",
        highlight=False,
    )


@app.command()
@handled
def plan(
    spec_file: SpecArg,
    store: Annotated[
        Path | None, typer.Option(help="store to compare against (default: the spec's)")
    ] = None,
    set_: SetOpt = [],
    trust: TrustOpt = False,
    env: EnvOpt = [],
):
    """Show the compiled tasks and which of them the store already holds."""
    spec, _, _ = load(spec_file, set_, trust, env)
    from ..runner import plan_status

    rows = plan_status(spec, store)
    body = [
        [
            str(i),
            str(t.stage),
            t.dataset,
            " ".join(f"{k}={fmt(v)}" for k, v in t.items() if v not in ("", None)),
            t.key,
            status,
        ]
        for i, (t, status) in enumerate(rows)
    ]
    table(
        f"{spec.name}: {len(rows)} tasks",
        ["#", "stage", "dataset", "params", "key", "status"],
        body,
    )


@app.command()
@handled
def layers(
    spec_file: SpecArg,
    match: Annotated[
        str | None,
        typer.Option(
            "--match",
            metavar="PATTERN",
            help="only layers matching this pattern, as `layers:` reads it (`*` within one "
            "dotted name, `**` across them)",
        ),
    ] = None,
    trust: TrustOpt = False,
    env: EnvOpt = [],
):
    """List every hookable layer of the model(s) with its output shape (spatial maps are pooled to
    C)."""
    spec, _, _ = load(spec_file, trust=trust, env=env)
    from ..runner import describe_layers
    from ..spec.patterns import matches

    for model, shapes in describe_layers(spec).items():
        names = [x for x in shapes if match is None or matches(match, x)]
        body = [[x, str(shapes[x]), f"(B, {shapes[x][0]})"] for x in names]
        title = f"layers of {model} (on dataset {spec.datasets[0].name})"
        table(title, ["layer", "output shape", "probed as"], body)


@app.command()
@handled
def train(spec_file: SpecArg, trust: TrustOpt = False, env: EnvOpt = []):
    """Train every model the spec needs (or find it in the checkpoint cache)."""
    spec, _, _ = load(spec_file, trust=trust, env=env)
    from ..runner import train as train_spec

    stop_on_sigterm()  # a training stops at its next step, its resumable state written
    with progress_bars() as progress:
        done = train_spec(spec, on_train_step=train_bar(progress))
    if not done:
        err.print("this spec trains nothing (its model needs no training)")
    for task, path, trained in done:
        what = "trained" if trained else "cached"
        out.print(f"{task.label}: {what} {path}", highlight=False, markup=False)
