"""The spec schema: kinds, shipped specs, single-field validation."""

from __future__ import annotations

from helpers import allowed_env

from reprdyn.spec import load_spec


def test_shipped_specs_validate_with_the_grants_their_header_names():
    from pathlib import Path

    for path in sorted((Path(__file__).parents[2] / "specs").glob("*.yaml")):
        assert load_spec(path, allow_env=allowed_env(path)).name == path.stem
