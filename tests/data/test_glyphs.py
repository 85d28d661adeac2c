"""Rendered glyphs: deterministic, cached, with masks that mark the glyph's pixels by class."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import unet_dae_spec

from reprdyn.data import build_dataset
from reprdyn.data import glyphs as glyphs_module
from reprdyn.spec import validate_text


def _block(extra: str = "") -> str:
    return unet_dae_spec("g", f"  - {{kind: glyphs, name: g, n_train: 24, n_test: 12{extra}}}\n")


def _data(tmp_path, extra: str = "", seed: int = 0):
    return build_dataset(validate_text(_block(extra)).datasets[0], seed, str(tmp_path))


def test_same_spec_and_seed_give_bit_identical_arrays_rendered_or_cached(tmp_path):
    a = _data(tmp_path / "one")
    b = _data(tmp_path / "two")  # rendered again in another cache
    c = _data(tmp_path / "one")  # read back from the cache
    for other in (b, c):
        np.testing.assert_array_equal(a.x, other.x)
        np.testing.assert_array_equal(a.y, other.y)
        np.testing.assert_array_equal(a.masks, other.masks)
    assert not np.array_equal(a.x, _data(tmp_path, seed=1).x)  # the seed matters
    assert a.x.shape == (36, 1, 16, 16) and -1 <= a.x.min() and a.x.max() <= 1
    assert list(a.split[:24]) == ["train"] * 24 and a.classes == list("0123456789")


def test_a_cached_configuration_is_never_rendered_again(tmp_path, monkeypatch):
    first = _data(tmp_path)
    monkeypatch.setattr(glyphs_module, "_render_all", lambda *a: pytest.fail("rendered again"))
    np.testing.assert_array_equal(_data(tmp_path).x, first.x)
    assert len(list((tmp_path / "glyphs").glob("*.npz"))) == 1


def test_adding_samples_keeps_the_ones_before(tmp_path):
    small = _data(tmp_path)
    more = build_dataset(
        validate_text(_block().replace("n_train: 24", "n_train: 30")).datasets[0], 0, str(tmp_path)
    )
    np.testing.assert_array_equal(small.x[:24], more.x[:24])  # each sample from its own stream


def test_masks_are_background_zero_and_class_plus_one_or_binary(tmp_path):
    data = _data(tmp_path, ", polarity: light-on-dark, contrast: [1, 1]")
    assert data.mask_classes == ["background", *"0123456789"]
    for x, y, m in zip(data.x, data.y, data.masks):
        assert set(np.unique(m)) <= {0, y + 1} and (m == y + 1).sum() > 3
        # full contrast, light on dark: pixel = 2 * coverage - 1, and the mask is coverage >= 1/2
        np.testing.assert_array_equal(x[0] >= 0, m > 0)
    binary = _data(tmp_path, ", mask: binary")
    assert set(np.unique(binary.masks)) == {0, 1} and binary.mask_classes == ["background", "glyph"]


def test_held_out_fonts_change_the_test_split_only(tmp_path):
    base = ", fonts: [dejavu-sans, dejavu-serif, cm-roman]"
    held = _data(tmp_path, base + ", test_fonts: [cm-roman]")
    same = _data(tmp_path, base)
    assert not np.array_equal(held.x[:24], same.x[:24])  # train now draws from two faces
    one = _data(tmp_path, ", fonts: [dejavu-sans, cm-roman], test_fonts: [cm-roman]")
    only = _data(tmp_path, ", fonts: [cm-roman]")
    # the test split of `one` is drawn from cm-roman alone, as the cm-roman-only dataset is
    np.testing.assert_array_equal(one.x[24:], only.x[24:])


@pytest.mark.parametrize(
    "extra, match",
    [
        (", chars: '0010'", "chars repeats a character"),
        (", size: 20", "Input should be 16 or 32"),
        (", scale: [0.9, 0.5]", "scale runs from low to high"),
        (", fonts: [cm-roman], test_fonts: [cm-roman]", "every training font is held out"),
        (", fonts: [comic-sans]", "Input should be 'dejavu-sans'"),
    ],
)
def test_bad_glyph_settings_are_clear(extra, match):
    from reprdyn.spec import SpecError

    with pytest.raises(SpecError, match=match):
        validate_text(_block(extra))
