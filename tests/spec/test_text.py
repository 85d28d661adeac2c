"""Reading a spec's text: YAML 1.2 numbers, syntax errors, empty, binary and non-mapping files."""

from __future__ import annotations

import pytest
from helpers import BASE, errors

from reprdyn.spec import SpecError, load_spec, validate_text


def test_yaml12_exponent_is_float_and_grid_sorted():
    spec = validate_text(BASE)
    assert spec.sigmas == [0.001, 0.5, 2.0]
    assert isinstance(spec.sigmas[0], float)


def test_yaml_syntax_errors():
    out = errors("spec_version: 1\nname: [unclosed\n")
    assert out[0].startswith("s.yaml:") and "YAML syntax error" in out[0]
    out = errors("spec_version: 1\n\tname: x\n")
    assert "s.yaml:2:1:" in out[0] and "tab" in out[0]
    out = errors("a: 1\na: 2\n")
    assert "YAML syntax error" in out[0] and "duplicate" in out[0]


def test_empty_binary_and_non_mapping(tmp_path):
    assert "the file is empty" in errors("")[0]
    assert "must be a mapping" in errors("- 1\n- 2\n")[0]
    bin_file = tmp_path / "b.yaml"
    bin_file.write_bytes(b"\x00\x01\xff\xfe")
    with pytest.raises(SpecError, match="binary"):
        load_spec(bin_file)
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "missing.yaml")
