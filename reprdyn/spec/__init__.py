"""Spec stage: typed experiment description, YAML loading with positions, identity hash."""
from .loader import Issue, SpecError, canonical, load, load_spec, resolved, spec_hash, to_yaml, validate_text
from .schema import ALL_METRICS, Spec

__all__ = ["Spec", "SpecError", "Issue", "load", "load_spec", "validate_text", "canonical", "resolved", "to_yaml", "spec_hash", "ALL_METRICS"]
