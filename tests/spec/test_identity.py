"""A spec's identity: the hash ignores formatting and where results go."""

from __future__ import annotations

import json

from helpers import BASE

from reprdyn.spec import canonical, spec_hash, validate_text


def test_hash_ignores_formatting_and_store():
    a = validate_text(BASE)
    b = validate_text(
        "# a comment\n" + BASE.replace("[0.5, 1e-3, 2]", "[2, 0.001, 0.5]") + "store: elsewhere\n"
    )
    assert spec_hash(a) == spec_hash(b)
    c = validate_text(BASE.replace("delta: 0.3", "delta: 0.31"))
    assert spec_hash(a) != spec_hash(c)
    assert json.loads(json.dumps(canonical(a)))["sigma"] == [0.001, 0.5, 2.0]
