"""The spec schema: kinds, shipped specs, single-field validation."""

from __future__ import annotations

import pytest
from helpers import BASE, allowed_env, errors

from reprdyn.spec import load_spec


def test_shipped_specs_validate_with_the_grants_their_header_names():
    from pathlib import Path

    for path in sorted((Path(__file__).parents[2] / "specs").glob("*.yaml")):
        assert load_spec(path, allow_env=allowed_env(path)).name == path.stem


@pytest.mark.parametrize(
    "line, message",
    [
        ("dense: {}", "`dense` is empty; name at least one set of layers, or leave it out"),
        ("sweep: {}", "`sweep` is empty; give at least one path with a list of values"),
        ("models: {}", "`models` is empty; name at least one model"),
    ],
)
def test_optional_mappings_are_left_out_or_filled(line, message):
    assert message in errors(BASE + line + "\n")[0]
