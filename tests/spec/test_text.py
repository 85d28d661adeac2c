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


@pytest.mark.parametrize(
    "text, where, hint",
    [
        ("a: 1\nsigma: [0.1, 0.2\nname: x\n", "2:8", "this [ is never closed"),
        ("a: {x: 1\nb: 2\n", "1:4", "this { is never closed"),
        ("name: 'abc\nb: 2\n", "1:7", "this quote is never closed"),
        ('name: "abc\nb: 2\n', "1:7", "this quote is never closed"),
        ("a:\n\tb: 1\n", "2:1", "YAML indents with spaces only"),
        ("name: a: b\n", "1:8", "quote the value ('a: b')"),
        ("name: a\nname: b\n", "2:1", "the key 'name' appears twice"),
        ("a:\n  b: 1\n c: 2\n", "3:2", "indented differently from the keys above it"),
        ("a: 1\njust text\nb: 2\n", "2:1", "a line that is not 'key: value'"),
        ("a: 1\n- x\n", "2:1", "a list item ('- ') where a key was expected"),
        ("a: [1, 2]]\n", "1:10", "a closing ] with no opening bracket"),
    ],
)
def test_syntax_errors_say_what_to_write_where_to_fix_it(text, where, hint):
    (out,) = errors(text)
    assert out.startswith(f"s.yaml:{where}: YAML syntax error: ") and hint in out
    assert "while parsing" not in out and "(the parser:" not in out


def test_verbose_adds_the_parsers_own_words(tmp_path):
    from helpers import invoke

    spec = tmp_path / "s.yaml"
    spec.write_text("sigma: [0.1, 0.2\nname: x\n")
    plain, verbose = invoke("validate", spec), invoke("--verbose", "validate", spec)
    assert plain.exit_code == verbose.exit_code == 2
    assert "while parsing a flow sequence" not in plain.stderr
    assert "(the parser: while parsing a flow sequence" in verbose.stderr
    # nothing carries over: the next invocation, and the library, say the plain words
    assert "(the parser:" not in invoke("validate", spec).stderr
    from reprdyn.spec import SpecError, load_spec

    with pytest.raises(SpecError) as e:
        load_spec(spec)
    assert "(the parser:" not in str(e.value) and e.value.issues[0].detail.startswith("the parser")
