"""The app's help reads as sentences at 80 columns: docstrings joined inside paragraphs, no
`<bool>` beside a flag, no line past the width."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from reprdyn.cli import app

COMMANDS = sorted(
    c.name or c.callback.__name__.removesuffix("_cmd") for c in app.registered_commands
)


def test_command_summaries_have_no_source_line_breaks():
    for info in app.registered_commands:
        assert not re.search(r"(?<!\n)\n(?!\n)", info.help or ""), info.callback.__name__


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]], ids=["reprdyn", *COMMANDS])
def test_help_at_80_columns(command):
    r = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80", "TERM": "dumb"})
    assert r.exit_code == 0, r.output
    assert "<bool>" not in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80
    if not command:  # the command list: export's summary reads on, not cut at its first line
        flat = " ".join(line.strip(" │") for line in r.output.splitlines())
        assert "store (spec, provenance, summary, figures)" in re.sub(r"\s+", " ", flat)
