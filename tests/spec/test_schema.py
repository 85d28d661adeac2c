"""The spec schema: kinds, shipped specs, single-field validation."""

from __future__ import annotations

from reprdyn.spec import load_spec


def test_shipped_specs_validate():
    from pathlib import Path

    for path in sorted((Path(__file__).parents[2] / "specs").glob("*.yaml")):
        load_spec(path)
