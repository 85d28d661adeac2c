"""Image datasets: the transform, subsets, HF imagefolder and parquet folders, offline hub names,
torchvision."""

from __future__ import annotations

import importlib.machinery
import sys
import types

import numpy as np
import pytest
from helpers import unet_dae_spec
from PIL import Image

from reprdyn.data import build_dataset
from reprdyn.data.images import DataUnavailable, subset, to_array
from reprdyn.spec import SpecError, validate_text
from reprdyn.spec.datacfg import Transform

COLOURS = [(255, 0, 0), (0, 0, 255), (0, 255, 0)]


def picture(k: int, w: int = 12, h: int = 10) -> Image.Image:
    """A class-k picture: a flat colour with a 2-pixel white border (cropped away by a centre
    crop)."""
    a = np.full((h, w, 3), COLOURS[k], np.uint8)
    a[:2], a[-2:], a[:, :2], a[:, -2:] = 255, 255, 255, 255
    return Image.fromarray(a)


def test_transform_resizes_the_short_side_crops_the_centre_and_scales():
    t = Transform(size=10, crop=4)
    # 20x10 -> 20x10 (short side already 10), centre 4x4 is pure red
    x = to_array(picture(0, 20, 10), t)
    assert x.shape == (3, 4, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(x[1:], -1.0, atol=1e-6)
    grey = to_array(picture(1), Transform(size=8, channels=1, range=(0, 1)))
    assert grey.shape == (1, 8, 8) and 0 <= grey.min() and grey.max() <= 1
    with pytest.raises(ValueError, match="crop 9 is larger than the resized image"):
        Transform(size=8, crop=9)


def test_subsets_are_seeded_and_per_class():
    y = np.repeat(np.arange(3), [10, 20, 30])
    idx = subset(y, 4, True, np.random.default_rng(0))
    assert np.bincount(y[idx]).tolist() == [4, 4, 4] and (np.diff(idx) > 0).all()
    assert len(subset(y, 7, False, np.random.default_rng(0))) == 7
    np.testing.assert_array_equal(
        subset(y, 7, False, np.random.default_rng(1)), subset(y, 7, False, np.random.default_rng(1))
    )
    assert len(subset(y, None, False, None)) == 60


def _hf_spec(path, extra: str = "") -> str:
    block = f"  - kind: hf\n    name: pics\n    path: {path}\n    transform: {{size: 8, crop: 6}}\n"
    return unet_dae_spec("pics", block + extra)


@pytest.fixture
def imagefolder(tmp_path):
    for split, n in (("train", 6), ("test", 3)):
        for k, name in enumerate(["red", "blue", "green"]):
            d = tmp_path / "pics" / split / name
            d.mkdir(parents=True)
            for i in range(n):
                picture(k, 40, 32).save(d / f"{i}.png")
    return tmp_path / "pics"


def test_hf_imagefolder_with_a_subset(imagefolder):
    spec = validate_text(_hf_spec(imagefolder, "    n_train: 2\n    per_class: true\n"))
    assert spec.datasets[0].shape == (3, 6, 6)
    data = build_dataset(spec.datasets[0], 0)
    assert data.classes == ["blue", "green", "red"]  # imagefolder sorts class folders
    assert (data.split == "train").sum() == 6 and (data.split == "test").sum() == 9
    assert np.bincount(data.y[data.split == "train"]).tolist() == [2, 2, 2]
    red = data.x[data.y == 2]
    # border cropped away, red is +1 in channel 0
    np.testing.assert_allclose(red[:, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(red[:, 2], -1.0, atol=1e-6)


def test_hf_parquet_folder_with_named_columns(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "pq"
    folder.mkdir()
    feats = datasets.Features(
        {"img": datasets.Image(), "target": datasets.ClassLabel(names=["r", "b", "g"])}
    )
    for split, n in (("train", 4), ("test", 2)):
        rows = {
            "img": [picture(k, 40, 32) for k in range(3) for _ in range(n)],
            "target": [k for k in range(3) for _ in range(n)],
        }
        datasets.Dataset.from_dict(rows, features=feats).to_parquet(
            str(folder / f"{split}.parquet")
        )
    spec = validate_text(_hf_spec(folder, "    image_column: img\n    label_column: target\n"))
    data = build_dataset(spec.datasets[0], 0)
    assert data.classes == ["r", "b", "g"] and data.x.shape == (18, 3, 6, 6)
    np.testing.assert_allclose(data.x[data.y == 1][:, 2], 1.0, atol=1e-6)  # blue


@pytest.mark.parametrize(
    "extra, match",
    [
        ("    image_column: picture\n", "has no column 'picture'"),
        ("    test_split: validation\n", "has no split 'validation'; it has ['test', 'train']"),
    ],
)
def test_hf_wrong_columns_or_splits(imagefolder, extra, match):
    with pytest.raises(DataUnavailable, match=match.replace("[", r"\[").replace("]", r"\]")):
        # the load's own check (validation finds a missing split folder first: tests/runner)
        build_dataset(validate_text(_hf_spec(imagefolder, extra), checks=False).datasets[0], 0)


def test_hf_hub_name_offline_is_one_clear_error(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    with pytest.raises(DataUnavailable) as e:
        build_dataset(validate_text(_hf_spec("nobody/no-dataset")).datasets[0], 0)
    msg = str(e.value)
    assert "dataset 'nobody/no-dataset' is not available offline" in msg
    assert str(tmp_path / "cache") in msg and "point `path:` at a local imagefolder" in msg
    with pytest.raises(DataUnavailable, match="dataset folder /.*/missing does not exist"):
        build_dataset(validate_text(_hf_spec("./missing"), checks=False).datasets[0], 0)


def test_hub_datasets_never_run_loading_scripts(monkeypatch):
    """On datasets releases that can run a hub dataset's loading script, reprdyn passes
    trust_remote_code=False; on releases without the option (4.0 and later), it passes nothing."""
    datasets = pytest.importorskip("datasets")
    calls = []

    def old_api(path, name=None, revision=None, trust_remote_code=None, **kw):
        calls.append(trust_remote_code)
        raise FileNotFoundError("offline")

    def new_api(path, name=None, revision=None, **kw):
        calls.append(kw)
        raise FileNotFoundError("offline")

    for fake in (old_api, new_api):
        monkeypatch.setattr(datasets, "load_dataset", fake)
        with pytest.raises(DataUnavailable):
            build_dataset(validate_text(_hf_spec("someone/with-a-script")).datasets[0], 0)
    assert calls == [False, {}]


TV_SPEC = """\
spec_version: 1
name: t
model: {kind: dae, network: {kind: mlp, width: 8}, precond: {kind: edm},
        train: {data: c, epochs: 1}, train_sigma: 0.5}
datasets:
  - {kind: torchvision, name: c, dataset: CIFAR10, root: data, transform: {size: 8}, n_test: 3}
sigma: [0.5]
layers: [fc1]
"""


class FakeCIFAR:
    classes = ["red", "blue", "green"]

    def __init__(self, root, train, download):
        self.targets = [k for k in range(3) for _ in range(4 if train else 2)]

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return picture(self.targets[i], 8, 8), self.targets[i]


def test_torchvision_missing_is_a_positioned_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # find_spec then raises: not importable
    with pytest.raises(SpecError) as e:
        validate_text(TV_SPEC, "s.yaml")
    (issue,) = e.value.issues
    assert issue.line == 6 and "needs the optional torchvision package" in issue.message


def test_torchvision_cifar_through_the_adapter(monkeypatch):
    tv = types.ModuleType("torchvision")
    tv.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    tv.datasets = types.SimpleNamespace(CIFAR10=FakeCIFAR)
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    data = build_dataset(validate_text(TV_SPEC).datasets[0], 0)
    assert data.classes == FakeCIFAR.classes and data.x.shape == (12 + 3, 3, 8, 8)
    assert (data.split == "test").sum() == 3
    np.testing.assert_allclose(data.x[data.y == 1][:, 2, 3, 3], 1.0, atol=1e-6)  # blue centre pixel


def _masked_folder(tmp_path, bad: str = ""):
    """An imagefolder of 8x10 pictures without classes, and a parallel folder of palette masks."""
    for split, n in (("train", 4), ("test", 2)):
        (tmp_path / "faces" / split).mkdir(parents=True)
        (tmp_path / "masks" / split).mkdir(parents=True)
        for i in range(n):
            picture(i % 3, 10, 8).save(tmp_path / "faces" / split / f"{i}.png")
            m = np.zeros((8, 10), np.uint8)
            m[2:6, 3:7] = 1 + i % 2
            m[0, 0] = 255
            if bad == "class" and split == "test":
                m[4, 4] = 7
            mask = Image.fromarray(m, mode="L")
            if bad == "size":
                mask = mask.resize((12, 8))
            if bad == "rgb":
                mask = mask.convert("RGB")
            if not (bad == "missing" and split == "test" and i == 1):
                mask.save(tmp_path / "masks" / split / f"{i}.png")
    return tmp_path / "faces"


def _mask_spec(tmp_path, extra: str = "    mask_folder: {masks}\n") -> str:
    return _hf_spec(
        tmp_path / "faces",
        "    label_column: null\n    mask_classes: [skin, nose, eye]\n"
        + extra.format(masks=tmp_path / "masks"),
    ).replace("layers: [mid]\n", "dense: {all: [mid]}\nprobes: [{kind: seg-linear}]\n")


def test_hf_imagefolder_with_a_mask_folder(tmp_path):
    pytest.importorskip("datasets")
    _masked_folder(tmp_path)
    spec = validate_text(_mask_spec(tmp_path))
    assert spec.metrics == ["miou"]  # no labels: segmentation alone
    data = build_dataset(spec.datasets[0], 0)
    assert data.masks.shape == (6, 6, 6) and data.classes == ["image"]
    assert data.mask_classes == ["skin", "nose", "eye"] and set(data.y) == {0}
    # 10x8 images keep their size (short side 8); the centre 6x6 crop starts at row 1, column 2
    want = np.zeros((8, 10), np.int64)
    want[2:6, 3:7] = 1
    np.testing.assert_array_equal(data.masks > 0, np.broadcast_to(want[1:7, 2:8] > 0, (6, 6, 6)))


@pytest.mark.parametrize(
    "bad, match",
    [
        ("class", "holds class 7, outside 0..2 of mask_classes"),
        ("size", "is 12x8 pixels, its image 10x8; they must match"),
        ("rgb", "is a RGB image; a mask holds one class index per pixel"),
        ("missing", "does not exist; every image needs its mask there"),
    ],
)
def test_hf_mask_problems_name_the_field_and_the_file(tmp_path, bad, match):
    pytest.importorskip("datasets")
    _masked_folder(tmp_path, bad)
    with pytest.raises(DataUnavailable, match=match) as e:
        build_dataset(validate_text(_mask_spec(tmp_path)).datasets[0], 0)
    assert "dataset 'pics', mask_folder: mask" in str(e.value)


def test_hf_missing_mask_column_is_named(tmp_path):
    pytest.importorskip("datasets")
    _masked_folder(tmp_path)
    spec = validate_text(_mask_spec(tmp_path, "    mask_column: segmentation\n"))
    with pytest.raises(
        DataUnavailable,
        match="mask_column: the local imagefolder .* has no column 'segmentation'",
    ):
        build_dataset(spec.datasets[0], 0)


def test_hf_parquet_mask_column(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "pq"
    folder.mkdir()
    feats = datasets.Features({"image": datasets.Image(), "seg": datasets.Image()})
    for split, n in (("train", 3), ("test", 2)):
        masks = [np.full((8, 10), k % 3, np.uint8) for k in range(n)]
        rows = {
            "image": [picture(k % 3, 10, 8) for k in range(n)],
            "seg": [Image.fromarray(m) for m in masks],
        }
        datasets.Dataset.from_dict(rows, features=feats).to_parquet(
            str(folder / f"{split}.parquet")
        )
    text = _hf_spec(folder, "    label_column: null\n    mask_column: seg\n    mask_classes: 3\n")
    text = text.replace("layers: [mid]\n", "dense: {all: [mid]}\nprobes: [{kind: seg-linear}]\n")
    data = build_dataset(validate_text(text).datasets[0], 0)
    assert [int(np.unique(m)[0]) for m in data.masks] == [0, 1, 2, 0, 1]


def test_mask_problems_found_at_load_are_reported_at_the_spec_field(tmp_path):
    """The command line positions a problem found while loading the masks at the field that
    names them: file:line:col, like a schema error."""
    from typer.testing import CliRunner

    from reprdyn.cli import app

    pytest.importorskip("datasets")
    _masked_folder(tmp_path, "class")
    spec = tmp_path / "s.yaml"
    spec.write_text(_mask_spec(tmp_path))
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(tmp_path / "s.zarr")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    line = next(x for x in spec.read_text().splitlines() if "mask_folder" in x)
    number = spec.read_text().splitlines().index(line) + 1
    assert f"s.yaml:{number}:" in r.stderr and "datasets[0].mask_folder:" in r.stderr
    assert "holds class 7" in r.stderr
    assert not (tmp_path / "s.zarr").exists()  # found before anything is written
