"""Errors at their place in the file: unknown keys with suggestions, wrong types, every problem at
once."""

from __future__ import annotations

from helpers import BASE, errors


def test_unknown_key_has_line_and_suggestion():
    out = errors(BASE + "layerz: [output]\n")
    assert out == [out[0]]
    assert out[0].startswith("s.yaml:7:1: layerz: unknown key 'layerz'; did you mean 'layers'?")


def test_nested_unknown_key_position():
    out = errors(BASE.replace("n_train: 30", "n_trian: 30"))
    assert any(
        o.startswith("s.yaml:5:") and "datasets[0].n_trian" in o and "did you mean 'n_train'" in o
        for o in out
    )
    assert any("missing required key 'n_train'" in o for o in out)


def test_wrong_type():
    out = errors(BASE.replace("K: 3", "K: three"))
    assert len(out) == 1 and out[0].startswith("s.yaml:5:") and "datasets[0].K" in out[0]
    assert "valid integer" in out[0]


def test_all_errors_reported_at_once():
    out = errors(
        BASE.replace("K: 3", "K: 1").replace("delta: 0.3", "delta: 2")
        + "label_noise: [1.0]\nfoo: 1\n"
    )
    assert len(out) == 4


def test_unknown_kind_lists_valid_ones():
    out = errors(BASE.replace("kind: molrg-optimal", "kind: molrg-optimum"))
    assert out[0].startswith("s.yaml:3:") and "'molrg-optimal'" in out[0]
