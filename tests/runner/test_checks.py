"""The second validation stage: layers of networks and models, training data that must exist."""

from __future__ import annotations

import pytest
from helpers import BASE, errors, trained_spec

from reprdyn.spec import SpecError, validate_text


def test_unknown_layer_for_static_model():
    out = errors(BASE + "layers: [outptu]\n")
    assert "unknown layer 'outptu'" in out[0] and "did you mean 'output'" in out[0]
    assert "duplicate layer" in errors(BASE + "layers: [output, output]\n")[0]


TRAINED = trained_spec(rest="layers: [fc2, outptu]\n")


def test_unknown_network_layer_is_positioned_with_suggestion():
    out = errors(TRAINED)
    assert len(out) == 1 and out[0].startswith("s.yaml:11:15: layers[1]: unknown layer 'outptu'")
    assert "did you mean 'output'?" in out[0] and "fc1" in out[0]


def test_train_data_must_exist_and_match_shape():
    assert (
        "names dataset 'x', which is not in `datasets`"
        in errors(TRAINED.replace("data: m", "data: x"))[0]
    )
    two = TRAINED.replace("datasets:\n", "datasets:\n  - {kind: digits, name: dg}\n")
    assert "datasets ['dg'] do not have the training data's shape (12,)" in errors(two)[0]


def test_unknown_dense_layer_is_a_positioned_error():
    from helpers import SEG_SMALL

    with pytest.raises(SpecError) as e:
        validate_text(SEG_SMALL.replace("last: [dec.1]", "last: [dec.7]"), "s.yaml")
    (issue,) = e.value.issues
    assert issue.path == "dense.last[0]" and issue.line == 14
    assert "unknown layer 'dec.7'" in issue.message and "dec.1" in issue.message


SCALED = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}


def _unet_spec(model_id: str, sigma: str) -> str:
    return (
        "spec_version: 1\nname: u\n"
        f"model: {{kind: diffusers-unet, id: {model_id}}}\n"
        "datasets: [{kind: digits, name: d, size: 32}]\n"
        f"sigma: {sigma}\n"
    )


def test_a_local_models_schedule_is_read_from_its_config(tmp_path):
    import json

    (tmp_path / "net" / "scheduler").mkdir(parents=True)
    (tmp_path / "net" / "scheduler" / "scheduler_config.json").write_text(json.dumps(SCALED))
    (out,) = errors(_unet_spec(str(tmp_path / "net"), "[0.5, 20.0]"))
    assert (
        "sigma 20 is outside the schedule of" in out and "sigma runs from 0.02917 to 14.61" in out
    )
    assert "scheduler/scheduler_config.json" in out  # where it was read
    assert validate_text(_unet_spec(str(tmp_path / "net"), "[0.5, 14.0]")).sigmas == [0.5, 14.0]


def test_a_cached_models_schedule_is_read_without_the_network(tmp_path, monkeypatch):
    import json

    pytest.importorskip("huggingface_hub")
    repo = tmp_path / "hub" / "models--someone--unet"  # the cache's own layout
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40) / "scheduler"
    snapshot.mkdir(parents=True)
    (snapshot / "scheduler_config.json").write_text(json.dumps(SCALED))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # online, yet validation reads no network
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    (out,) = errors(_unet_spec("someone/unet", "[0.01, 1.0]"))
    assert "sigma 0.01 is outside the schedule of someone/unet" in out
    # a model neither recorded nor on disk is checked once it loads
    assert validate_text(_unet_spec("someone/elsewhere", "[0.01, 1.0]")).sigmas == [0.01, 1.0]


def _images_spec(path) -> str:
    return (
        "spec_version: 1\nname: i\nmodel: {kind: diffusers-unet, id: google/ddpm-cifar10-32}\n"
        f"datasets: [{{kind: hf, name: pics, path: {path}, transform: {{size: 32}}}}]\n"
        "sigma: [0.5]\n"
    )


def test_an_image_folder_is_checked_before_anything_loads(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # online: the model would download
    (out,) = errors(_images_spec("./images"))
    assert "the image folder" in out and "images does not exist" in out
    assert "train/<class>/*.png and test/<class>/*.png" in out
    (tmp_path / "pics" / "train").mkdir(parents=True)
    out = " ".join(errors(_images_spec(tmp_path / "pics")))  # both said at once
    assert "has no test/ folder" in out and "pics/train holds no class folders" in out
    (tmp_path / "pics" / "test" / "cat").mkdir(parents=True)
    (out,) = errors(_images_spec(tmp_path / "pics"))
    assert "pics/train holds no class folders" in out and "label_column: null" in out
    (tmp_path / "pics" / "train" / "cat").mkdir()
    assert validate_text(_images_spec(tmp_path / "pics")).datasets[0].name == "pics"


def test_offline_a_hub_model_must_be_in_the_cache(tmp_path, monkeypatch):
    import json

    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    (out,) = errors(_unet_spec("someone/unet", "[0.5]"))
    assert out.startswith("s.yaml:3:") and "someone/unet is not in the Hugging Face cache" in out
    assert "huggingface-cli download someone/unet" in out
    snapshot = tmp_path / "hub" / "models--someone--unet" / "snapshots" / ("0" * 40)
    (snapshot / "unet").mkdir(parents=True)
    (snapshot / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel"}))
    (tmp_path / "hub" / "models--someone--unet" / "refs").mkdir()
    (tmp_path / "hub" / "models--someone--unet" / "refs" / "main").write_text("0" * 40)
    assert validate_text(_unet_spec("someone/unet", "[0.5]")).model.id == "someone/unet"
    monkeypatch.delenv("HF_HUB_OFFLINE")  # online, the run downloads what is missing
    assert validate_text(_unet_spec("someone/else", "[0.5]")).model.id == "someone/else"
