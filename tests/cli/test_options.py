"""Shell completion of what a store holds: variables for `query STORE <TAB>`, dims and values for
`--sel` and `--mean`, template names for `init -t`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from reprdyn.cli import app


def complete(*words: str) -> list[str]:
    """What bash completion offers for the last word of `reprdyn WORDS...`."""
    line = " ".join(["reprdyn", *map(str, words)])
    env = {"_REPRDYN_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words))}
    r = CliRunner().invoke(app, [], env=env, prog_name="reprdyn")
    return r.output.split()


def test_variables_of_the_store(small_store):
    got = complete("query", small_store, "accur")
    assert got and set(got) <= {"accuracy", "accuracy_boot", "accuracy_ci"} and "accuracy" in got
    assert {"sigma", "seed"} <= set(complete("query", small_store, "accuracy", "--mean", "s"))


@pytest.mark.parametrize("command", [["query", "{S}", "accuracy"], ["plot", "{S}"]])
def test_sel_offers_dims_then_their_values(small_store, command):
    words = [small_store if w == "{S}" else w for w in command]
    assert "label_noise=" in complete(*words, "--sel", "la")
    assert complete(*words, "--sel", "layer=") == ["layer=output"]


def test_templates_and_nothing_without_a_store(tmp_path):
    assert complete("init", "-t", "glyphs") == ["glyphs-unet", "glyphs-segmentation"]
    assert complete("query", tmp_path / "none.zarr", "acc") == []
