"""Layer patterns: the matcher against a table and against fnmatch where their rules agree, the
expansion, and the schema rules that read patterns."""

from __future__ import annotations

import fnmatch

import pytest
from helpers import BASE, errors

from reprdyn.spec.patterns import expand, is_pattern, matches

NAMES = [
    "conv_in", "down_blocks.0", "down_blocks.0.resnets.0", "down_blocks.0.resnets.0.conv1",
    "down_blocks.0.attentions.0", "down_blocks.0.attentions.0.to_q", "down_blocks.1",
    "down_blocks.1.resnets.0", "up_blocks.0.resnets.0", "up_blocks.1.resnets.0",
    "up_blocks.1.resnets.1", "up_blocks.10.resnets.0", "mid_block", "output", "pixels",
]  # fmt: skip


@pytest.mark.parametrize("pattern, want", [
    ("up_blocks.*.resnets.0", ["up_blocks.0.resnets.0", "up_blocks.1.resnets.0",
                               "up_blocks.10.resnets.0"]),
    ("up_blocks.?.resnets.*", ["up_blocks.0.resnets.0", "up_blocks.1.resnets.0",
                               "up_blocks.1.resnets.1"]),
    ("down_blocks.*", ["down_blocks.0", "down_blocks.1"]),  # one name, not their children
    ("**.to_q", ["down_blocks.0.attentions.0.to_q"]),
    ("down_blocks.0.**", ["down_blocks.0.resnets.0", "down_blocks.0.resnets.0.conv1",
                          "down_blocks.0.attentions.0", "down_blocks.0.attentions.0.to_q"]),
    ("up_blocks.[!0].resnets.0", ["up_blocks.1.resnets.0"]),
    ("*", ["conv_in", "mid_block"]),  # never the pseudo-layers output and pixels
    ("mid_block", ["mid_block"]),
])  # fmt: skip
def test_patterns_match_dotted_names(pattern, want):
    assert [n for n in NAMES if matches(pattern, n)] == want


@pytest.mark.parametrize("pattern", ["*", "up_blocks.?.resnets.0", "down_blocks.[01]", "a[!b]c"])
def test_within_one_name_a_pattern_is_fnmatch(pattern):
    """Where no name has a dot, `*` and fnmatch's `*` are the same rule."""
    names = ["", "a", "abc", "axc", "up_blocks", "x", "resnets0", "mid", "01"]
    flat = [n.replace(".", "") for n in NAMES if n not in ("output", "pixels")]
    flat_pattern = pattern.replace(".", "")
    for n in names + flat:
        assert matches(flat_pattern, n) == fnmatch.fnmatchcase(n, flat_pattern), n


def test_expand_keeps_order_drops_repeats_and_reports_empty_patterns():
    got, empty = expand(["mid_block", "up_blocks.1.*", "up_blocks.*.resnets.1", "enc.*"], NAMES)
    assert got == ["mid_block", "up_blocks.1.resnets.1"]  # up_blocks.1 has no direct child here
    # a name two entries match comes once, at its first place
    assert empty == [1, 3] and expand(["up_blocks.1.resnets.*", "**.resnets.1"], NAMES)[0] == [
        "up_blocks.1.resnets.0",
        "up_blocks.1.resnets.1",
    ]
    assert is_pattern("a.*") and is_pattern("a[0]") and not is_pattern("a.b")


def test_a_pattern_that_matches_no_static_layer_is_an_error_at_its_place():
    out = errors(BASE + "layers: [output, 'fc*']\n")
    assert out == [
        "s.yaml:7:18: layers[1]: layer pattern 'fc*' matches no layer of 'molrg-optimal'"
    ]


def test_a_probe_may_read_a_layer_a_pattern_names():
    text = BASE.replace(
        "model: {kind: molrg-optimal}",
        """model:
  kind: diffusion
  network: {kind: mlp, width: 8}
  precond: {kind: edm}
  train: {data: m, steps: 2}""",
    )
    from reprdyn.spec import validate_text

    validate_text(text + "layers: ['fc*']\nprobes: [{kind: ridge, layers: [fc2]}]\n")
    out = errors(text + "layers: ['fc*']\nprobes: [{kind: ridge, layers: [head]}]\n")
    assert len(out) == 1 and "reads layers ['head'] that are not in `layers`" in out[0]
