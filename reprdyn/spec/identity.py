"""A spec's identity: its canonical form (what the results depend on), its hash, the resolved
form a store keeps, and YAML text of either."""

from __future__ import annotations

import hashlib
import json

from ruamel.yaml import YAML

from .schema import Spec


def canonical(spec: Spec) -> dict:
    """The spec's canonical form: validated values, defaults filled, grid expanded.

    `store`, `compute` and `trust_code` are left out: where results go, what
    hardware runs them and who vouched for the code do not change what they are.
    """
    d = spec.model_dump(mode="json", exclude={"store", "compute", "trust_code"})
    d["sigma"] = spec.sigmas
    return d


def resolved(spec: Spec) -> dict:
    """The spec with every default filled in, as plain data that validates back to the same spec."""
    return spec.model_dump(mode="json", exclude_none=True)


def to_yaml(data: dict) -> str:
    import io

    y = YAML(typ="safe", pure=True)
    y.default_flow_style = None
    y.sort_base_mapping_type_on_output = False
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def spec_hash(spec: Spec) -> str:
    blob = json.dumps(canonical(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
