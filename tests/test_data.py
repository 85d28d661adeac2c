"""MoLRG data (docs/theory.md §2): bases, class covariances and energy expectations by Monte
Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from reprdyn.data import build_dataset
from reprdyn.data.molrg import molrg_bases, molrg_sample
from reprdyn.spec import validate_text


def test_bases_orthonormal_and_mutually_orthogonal():
    U = molrg_bases(20, 4, 3, np.random.default_rng(0))  # (K, n, d)
    G = np.einsum("knd,lne->kdle", U, U).reshape(12, 12)  # all pairs U_k^T U_l
    np.testing.assert_allclose(G, np.eye(12), atol=1e-12)


def test_class_covariance_matches_sigma_k():
    rng = np.random.default_rng(1)
    U = molrg_bases(8, 2, 2, rng)
    x, y = molrg_sample(U, 0.4, 200_000, rng)
    for k in range(2):
        P = U[k] @ U[k].T
        Sigma_k = P + 0.4**2 * (np.eye(8) - P)
        emp = np.cov(x[y == k].T)
        np.testing.assert_allclose(emp, Sigma_k, atol=0.01)  # MC error ~ 1/sqrt(1e5)
    assert abs((y == 0).mean() - 0.5) < 0.01  # pi_k = 1/K


def test_energy_expectations():
    rng = np.random.default_rng(2)
    U = molrg_bases(50, 3, 5, rng)
    x, y = molrg_sample(U, 0.3, 30_000, rng)
    E = (np.einsum("in,knd->ikd", x, U) ** 2).sum(-1)  # (N, K)
    own = E[np.arange(len(y)), y]
    other = E[np.arange(len(y)), (y + 1) % 3]
    assert own.mean() == pytest.approx(5, rel=0.02)  # E||U_k^T x0||^2 = d
    assert other.mean() == pytest.approx(0.09 * 5, rel=0.02)  # delta^2 d


def test_build_is_deterministic_and_split():
    spec = validate_text("""spec_version: 1
name: t
model: {kind: molrg-optimal}
datasets: [{kind: molrg, name: m, n: 10, K: 2, d: 2, delta: 0.2, n_train: 30, n_test: 20}]
sigma: [1]
""")
    a, b = build_dataset(spec.datasets[0], 7), build_dataset(spec.datasets[0], 7)
    np.testing.assert_array_equal(a.x, b.x)
    assert (a.split == "train").sum() == 30 and (a.split == "test").sum() == 20
    assert a.classes == ["0", "1"] and a.extras["U"][1].shape == (2, 10, 2)
    c = build_dataset(spec.datasets[0], 8)
    assert not np.array_equal(a.x, c.x)


def test_unknown_kind_is_clear():
    class Cfg:
        kind = "cifar"

    with pytest.raises(ValueError, match="unknown dataset kind 'cifar'; expected one of"):
        build_dataset(Cfg(), 0)


def test_digits_scaled_stratified_and_resizable():
    from reprdyn.spec.datacfg import DigitsData

    a = build_dataset(DigitsData(kind="digits", name="d", test_fraction=0.25), 0)
    assert a.x.shape == (1797, 1, 8, 8) and a.x.min() == -1 and a.x.max() == 1
    te = a.y[a.split == "test"]
    assert len(te) == 450
    # stratified
    np.testing.assert_allclose(np.bincount(te) / len(te), np.bincount(a.y) / len(a.y), atol=0.01)
    b = build_dataset(DigitsData(kind="digits", name="d", test_fraction=0.25), 1)
    assert not np.array_equal(a.y, b.y)  # the split is set by the seed
    c = build_dataset(DigitsData(kind="digits", name="d16", size=16), 0)
    assert c.x.shape == (1797, 1, 16, 16) and c.x.min() >= -1 and c.x.max() <= 1


# --- npz -------------------------------------------------------------------------


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
