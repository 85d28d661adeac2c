"""npz datasets: stratified splits, uint8 scaling, their own test split, masks, positioned
errors."""

from __future__ import annotations

import numpy as np
import pytest

from reprdyn.data import build_dataset
from reprdyn.spec import validate_text


def _npz_spec(path) -> str:
    return f"""\
spec_version: 1
name: t
model:
  kind: dae
  network: {{kind: mlp, width: 8}}
  precond: {{kind: edm}}
  train: {{data: a, epochs: 1}}
  train_sigma: 0.5
datasets:
  - {{kind: npz, name: a, path: {path}}}
sigma: [0.5]
layers: [fc1]
"""


def test_npz_split_is_stratified_and_uint8_is_scaled(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 25)
    x = rng.integers(0, 256, size=(100, 1, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    spec = validate_text(_npz_spec(tmp_path / "a.npz"))
    from reprdyn.data.npz import npz_shape

    assert spec.datasets[0].shape is None and npz_shape(spec.datasets[0].path, "x", "y") == (
        1,
        4,
        4,
    )
    data = build_dataset(spec.datasets[0], 0)
    tr = data.split == "train"
    assert tr.sum() == 70 and sorted(np.bincount(data.y[~tr]).tolist()) == [7, 7, 8, 8]
    assert data.x.dtype == np.float32 and data.x.min() >= -1 and data.x.max() <= 1
    # every sample is kept exactly once, scaled x/127.5 - 1
    np.testing.assert_allclose(np.sort(data.x.ravel()), np.sort(x.ravel() / 127.5 - 1), atol=1e-6)
    assert data.classes == ["0", "1", "2", "3"]


def test_npz_uses_its_own_test_split(tmp_path):
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    np.savez(
        tmp_path / "a.npz",
        x=x,
        y=np.array([0, 1, 0, 1, 0, 1]),
        x_test=x[:2] + 100,
        y_test=np.array([1, 0]),
    )
    data = build_dataset(validate_text(_npz_spec(tmp_path / "a.npz")).datasets[0], 0)
    assert (data.split == "test").sum() == 2
    np.testing.assert_array_equal(data.x[data.split == "test"], x[:2] + 100)
    np.testing.assert_array_equal(data.y, [0, 1, 0, 1, 0, 1, 1, 0])


@pytest.mark.parametrize(
    "arrays, match",
    [
        (None, "npz file not found"),
        ("not a zip", "is not a readable .npz file"),
        ({"x": np.zeros((4, 2))}, "has no array 'y'; it has ['x']"),
        ({"x": np.zeros((4, 2)), "y": np.zeros(3, int)}, "must be one label per sample"),
        ({"x": np.zeros((4, 2)), "y": np.zeros(4)}, "expected integers"),
        ({"x": np.zeros(4), "y": np.zeros(4, int)}, "expected (N, features...) samples"),
    ],
)
def test_npz_problems_are_positioned_errors(tmp_path, arrays, match):
    from reprdyn.spec import SpecError

    path = tmp_path / "a.npz"
    if isinstance(arrays, dict):
        np.savez(path, **arrays)
    elif isinstance(arrays, str):
        path.write_text(arrays)
    validate_text(_npz_spec(path), "s.yaml", checks=False)  # the pure stage reads no data file
    with pytest.raises(SpecError) as e:
        validate_text(_npz_spec(path), "s.yaml")
    (issue,) = e.value.issues
    assert issue.file == "s.yaml" and issue.line == 10 and match in issue.message
    assert str(path) in issue.message


def _npz_mask_spec(path, extra: str = "") -> str:
    return f"""\
spec_version: 1
name: t
model:
  kind: dae
  network: {{kind: unet, channels: 4, mult: [1]}}
  precond: {{kind: edm}}
  train: {{data: a, epochs: 1}}
  train_sigma: 0.5
datasets:
  - {{kind: npz, name: a, path: {path}, masks: m, mask_classes: 3{extra}}}
sigma: [0.5]
dense: {{all: [mid]}}
probes: [{{kind: seg-linear}}]
"""


def test_npz_masks_split_with_their_images(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(10, 1, 4, 4)).astype(np.uint8)
    y = np.array([0, 1] * 5)
    m = rng.integers(0, 3, size=(10, 4, 4))
    m[0, 0, 0] = 255  # ignored
    np.savez(tmp_path / "a.npz", x=x, y=y, m=m)
    spec = validate_text(_npz_mask_spec(tmp_path / "a.npz"))
    data = build_dataset(spec.datasets[0], 0)
    assert data.masks.shape == (10, 4, 4) and data.mask_classes == ["0", "1", "2"]
    for xi, mi in zip(data.x, data.masks):  # each mask still beside its own image
        k = int(np.flatnonzero((x.astype(np.float32) / 127.5 - 1 == xi).all((1, 2, 3)))[0])
        np.testing.assert_array_equal(mi, m[k])


@pytest.mark.parametrize(
    "masks, match",
    [
        (None, "has no array 'm' (masks of 'x')"),
        (np.zeros((6, 4, 4), np.int64), "masks 'm' have shape (6, 4, 4); expected one (H, W) mask"),
        (np.zeros((10, 4, 5), np.int64), "expected one (H, W) mask per image"),
        (np.full((10, 4, 4), 3), "masks 'm' hold class 3, outside 0..2 of mask_classes"),
        (np.zeros((10, 4, 4)), "have dtype float64; expected integers"),
    ],
)
def test_npz_mask_problems_are_positioned_errors(tmp_path, masks, match):
    from reprdyn.spec import SpecError

    arrays = {"x": np.zeros((10, 1, 4, 4), np.uint8), "y": np.array([0, 1] * 5)}
    if masks is not None:
        arrays["m"] = masks
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(SpecError) as e:
        validate_text(_npz_mask_spec(tmp_path / "a.npz"), "s.yaml")
    (issue,) = e.value.issues
    assert issue.line == 10 and issue.path == "datasets[0].masks" and match in issue.message


def test_ignore_index_admits_its_value(tmp_path):
    np.savez(
        tmp_path / "a.npz",
        x=np.zeros((10, 1, 4, 4), np.uint8),
        y=np.array([0, 1] * 5),
        m=np.full((10, 4, 4), 9),
    )
    validate_text(_npz_mask_spec(tmp_path / "a.npz", ", ignore_index: 9"), "s.yaml")
