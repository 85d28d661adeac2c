"""Spec stage: typed experiment description, YAML loading with positions, identity hash.

Pure data: pydantic and ruamel.yaml (numpy for grids), no torch. `load_spec` runs
the second, heavier stage (`reprdyn.runner.checks`) unless `checks=False`.
"""

from ..errors import Issue, SpecError
from .loader import canonical, load, load_spec, resolved, spec_hash, to_yaml, validate_text
from .schema import Spec

__all__ = [
    "Spec",
    "SpecError",
    "Issue",
    "load",
    "load_spec",
    "validate_text",
    "canonical",
    "resolved",
    "to_yaml",
    "spec_hash",
]
