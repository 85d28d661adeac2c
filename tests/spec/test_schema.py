"""The spec schema: kinds, shipped specs, single-field validation."""

from __future__ import annotations

import pytest
from helpers import BASE, errors, stand_in_data

from reprdyn.spec import load_spec


def test_shipped_specs_validate_with_the_grants_their_header_names(tmp_path, monkeypatch):
    """No weights, no network; the image folders they read stand in empty. Validation reads no
    network either way; with the session's HF_HUB_OFFLINE it would ask for the models in the
    cache (tests/runner/test_checks.py), which a user with a network does not need."""
    from pathlib import Path

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for path in sorted((Path(__file__).parents[2] / "specs").glob("*.yaml")):
        granted = stand_in_data(path, tmp_path, monkeypatch)
        assert load_spec(path, allow_env=granted).name == path.stem


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
