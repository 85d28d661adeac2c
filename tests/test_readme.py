"""Every `reprdyn` command the README shows parses, and the cheap ones run as written.

Commands on the main job's store (`$S`, store/molrg-theory.zarr) and commands that only read
specs run against a fresh molrg-theory store; commands on stores that take minutes to make
are parsed (their subcommand and options must exist) but not run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from reprdyn.cli import app

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
CHEAP = ("validate", "schema", "plan", "spec", "status", "query", "ls", "plot", "report", "layers")


def commands() -> list[str]:
    """The `reprdyn ...` lines of the README's bash blocks, comments and redirects stripped, shell
    variables (S=store/...) replaced by their values."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        names: dict[str, str] = {}
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            line = re.sub(r"\s*>\s*\S+$", "", line)  # a redirect: the output is checked here
            line = re.sub(r"^\.venv/bin/", "", line)
            if m := re.fullmatch(r"([A-Z]+)=(\S+)", line):
                names[m[1]] = m[2]
            elif line.startswith("reprdyn "):
                out.append(re.sub(r"\$([A-Z]+)\b", lambda v: names.get(v[1], v[0]), line))
    return out


def test_the_readme_shows_commands():
    assert len(commands()) >= 20


def _runs_here(args: list[str]) -> bool:
    """Cheap: reads specs, or the main job's store; nothing that trains or loads a big model."""
    if args[0] == "run" or "--dask" in args:
        return False
    if args[0] == "init":
        return "--list" in args
    if args[0] == "validate":
        return True  # validating any spec is cheap: no training, no download
    stores = [a for a in args if a.endswith(".zarr")]
    specs = [a for a in args if a.endswith(".yaml")]
    return (
        args[0] in CHEAP
        and all(a == "store/molrg-theory.zarr" for a in stores)
        and all(a == "specs/molrg-theory.yaml" for a in specs)
    )


@pytest.mark.parametrize("line", commands())
def test_readme_command(line, theory_store, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = shlex.split(line)[1:]
    if not _runs_here(args):
        # parse only: the subcommand and every option must exist
        command = typer.main.get_command(app)
        ctx = command.make_context("reprdyn", [args[0], "--help"], resilient_parsing=True)
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"unknown command in README: {line}"
        known = {o for p in sub.params for o in getattr(p, "opts", [])}
        unknown = [a for a in args[1:] if a.startswith("-") and a.split("=")[0] not in known]
        assert not unknown, f"{line}: unknown options {unknown}"
        return
    args = [str(theory_store) if a == "store/molrg-theory.zarr" else a for a in args]
    for i, a in enumerate(args):  # outputs go to the test's folder
        if i and args[i - 1] in ("--out", "-o"):
            args[i] = str(tmp_path / Path(a).name)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, f"{line}\n{result.output}"


def test_readme_nan_idiom_runs(theory_store):
    """The Python lines that pick sigma on validation among the fitted (layer, probe) cells."""
    block = next(b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "stack(" in b)
    code = re.sub(r'reprdyn\.open\("[^"]+"\)\["\w+"\]', "CUBE", block)
    scope = {"CUBE": __import__("reprdyn").open(theory_store)["molrg"]}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own example
    chosen = scope["test"].sel(sigma=scope["best"])
    best = scope["cube"]["best_accuracy"].mean(["replicate", "seed"]).stack(cell=("layer", "probe"))
    assert float(chosen.isel(label_noise=0, input=0, cell=0)) >= 0.9
    assert chosen.sizes == best.sel(cell=chosen.cell).sizes


def test_the_counts_and_lists_the_readme_states_match_the_code():
    """Prose that cannot drift: every number and list the README states about the code."""
    from reprdyn.metrics import figures
    from reprdyn.templates import TEMPLATES

    assert f"`--list` shows the {len(TEMPLATES)} templates" in README
    bad = len(list((ROOT / "tests" / "bad_specs").glob("*.yaml")))  # a folder among them
    assert f"\n{bad} malformed specs" in README
    table = README.split("## Commands", 1)[1].split("\n\n", 2)[1]
    rows = set(re.findall(r"^\| `reprdyn ([a-z]+)", table, flags=re.M))
    names = {c.name or c.callback.__name__.removesuffix("_cmd") for c in app.registered_commands}
    assert rows == names, rows ^ names
    plot_row = next(line for line in table.splitlines() if line.startswith("| `reprdyn plot"))
    assert re.findall(r"`([a-z-]+)`", plot_row.split("`.pdf`:")[1].split(";")[0]) == list(figures())
    shipped = set(re.findall(r"^\| `specs/([\w-]+\.yaml)` \|", README, flags=re.M))
    assert shipped == {p.name for p in (ROOT / "specs").glob("*.yaml")}
    from test_mutations import MUTANTS_PER_SPEC

    assert f"runs {MUTANTS_PER_SPEC} random mutations" in README


def test_the_metric_table_is_the_registry():
    """The README's metric table is what the metric records declare, in their order."""
    from reprdyn import metrics

    table = README.split("<!-- metrics table -->\n", 1)[1].split("\n<!-- /metrics table -->")[0]
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    assert [r[0].strip("|` ") for r in rows] == list(metrics.registry())
    for r, m in zip(rows, metrics.registry().values()):
        assert r[1] == str(m.stage) and r[3].rstrip(" |") == m.about
