"""The JSON Schema of a spec, as editors and validators read it (draft 2020-12).

pydantic writes the schema of `Spec`; this turns it into one that strict validators compile
(ajv in strict mode refuses keywords it does not know, such as pydantic's OpenAPI `discriminator`
and reprdyn's own `x-path` marks, which stay in the field metadata for the loader) and that is
right about specs that `extends` a base: such a spec is a partial spec, deep-merged under its
bases, so nothing in it is required. A spec without `extends` is checked against the full schema.
"""

from __future__ import annotations

import copy

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID = "https://reprdyn.dev/schema/spec-1.json"
BASE_ID = "https://reprdyn.dev/schema/spec-1-base.json"
UNKNOWN = ("discriminator", "x-path")  # keywords strict validators refuse
TYPED = {"uniqueItems": "array", "minItems": "array"}  # strict validators want a type beside them
PATH_RULES = {"minLength": 1, "maxLength": 4096, "pattern": r"^[^/]{0,255}(?:/[^/]{0,255})*$"}


def export() -> dict:
    """The spec's JSON Schema for editors (`reprdyn schema`, `reprdyn.schema.json`)."""
    from .schema import Spec

    full = _strip(Spec.model_json_schema(ref_template="#/$defs/{model}"))
    defs = full.pop("$defs")
    partial = {f"{name}Partial": _partial(d) for name, d in defs.items()}
    root = {k: v for k, v in full.items() if k not in ("title", "description")}
    return {
        "$schema": DIALECT,
        "$id": ID,
        "title": "reprdyn spec",
        "description": full.get("description", ""),
        "$defs": {**defs, "Spec": root, **partial, "SpecPartial": _partial(root)},
        "if": {"type": "object", "properties": {"extends": True}, "required": ["extends"]},
        "then": {"$ref": "#/$defs/SpecPartial"},
        "else": {"$ref": "#/$defs/Spec"},
    }


def export_base() -> dict:
    """The schema of a base file that specs `extends` (`reprdyn schema --base`): a partial spec,
    so nothing is required (a base rightly has no `name`), and every value is checked."""
    full = export()
    return {
        "$schema": DIALECT,
        "$id": BASE_ID,
        "title": "reprdyn base spec (for `extends`)",
        "description": full["description"],
        "$defs": full["$defs"],
        "$ref": "#/$defs/SpecPartial",
    }


def _strip(node):
    """The schema without the keywords strict validators refuse; a path field (`x-path`) says
    what the loader checks of it, a non-empty string no file system refuses for its length."""
    if isinstance(node, dict):
        out = {k: _strip(v) for k, v in node.items() if k not in UNKNOWN}
        for key, kind in TYPED.items():  # a keyword of one type goes to that member of a union
            members = out.get("anyOf", [])
            if key in out and "type" not in out and any(m.get("type") == kind for m in members):
                value = out.pop(key)
                for m in (m for m in members if m.get("type") == kind):
                    m[key] = value
        if "x-path" in node:  # at most 4,096 characters, and 255 between slashes
            strings = [out, *out.get("anyOf", [])]  # the string schema, or a union's string member
            for branch in (b for b in strings if isinstance(b, dict) and b.get("type") == "string"):
                branch.update(PATH_RULES)
        return out
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _partial(node):
    """A deep-partial copy: nothing required, variants told apart by `anyOf` (a partial block can
    match several), references to the partial definitions."""
    node = copy.deepcopy(node)

    def walk(n):
        if isinstance(n, dict):
            n.pop("required", None)
            if "oneOf" in n:
                n["anyOf"] = n.pop("oneOf")
            ref = n.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                n["$ref"] = ref + "Partial"
            for v in n.values():
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)

    walk(node)
    return node
