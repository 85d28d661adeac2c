"""The dataset blocks: each kind's own checks, the shape it declares, and its path marks."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from reprdyn.spec.datacfg import Dataset, GlyphsData, MolrgData, path_field

DATASET = TypeAdapter(Dataset)
MOLRG = {"kind": "molrg", "name": "m", "K": 3, "d": 3, "delta": 0, "n_train": 1, "n_test": 1}


def test_molrg_subspaces_must_fit_the_ambient_dimension():
    MolrgData(kind="molrg", name="m", n=6, K=3, d=2, delta=0.1, n_train=1, n_test=1)
    with pytest.raises(ValidationError, match="K\\*d = 8 must be at most n = 6"):
        MolrgData(kind="molrg", name="m", n=6, K=4, d=2, delta=0.1, n_train=1, n_test=1)


@pytest.mark.parametrize(
    "block, shape",
    [
        ({**MOLRG, "n": 9}, (9,)),
        ({"kind": "digits", "name": "d"}, (1, 8, 8)),
        ({"kind": "digits", "name": "d", "size": 16}, (1, 16, 16)),
        ({"kind": "mnist", "name": "d"}, (1, 28, 28)),
        ({"kind": "glyphs", "name": "g", "size": 32, "channels": 3}, (3, 32, 32)),
    ],
)  # fmt: skip
def test_the_shape_each_kind_declares(block, shape):
    assert DATASET.validate_python(block).shape == shape


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"rotation": (20.0, -20.0)}, "rotation runs from low to high"),
        ({"scale": (0.5, 2.0)}, "scale must lie in (0, 1.5]"),
        ({"contrast": (0.0, 1.5)}, "contrast must lie in [0, 1]"),
        ({"chars": "aba"}, "chars repeats a character"),
    ],
)
def test_glyph_ranges_are_checked(extra, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("[", r"\[")):
        GlyphsData(kind="glyphs", name="g", **extra)


def test_glyph_mask_classes():
    assert GlyphsData(kind="glyphs", name="g", chars="ab").mask_classes == ["background", "a", "b"]
    binary = GlyphsData(kind="glyphs", name="g", mask="binary")
    assert binary.mask_classes == ["background", "glyph"] and binary.has_masks


def test_path_fields_carry_their_mark_in_the_schema():
    schema = DATASET.json_schema()["$defs"]
    assert schema["NpzData"]["properties"]["path"]["x-path"] is True
    assert schema["HfData"]["properties"]["path"]["x-path"] == "maybe"
    assert schema["TorchvisionData"]["properties"]["root"]["x-path"] is True
    field = path_field("write", "where it goes", None)
    assert field.default is None and field.json_schema_extra == {"x-path": "write"}
