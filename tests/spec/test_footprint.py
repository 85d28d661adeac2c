"""`reprdyn validate` says what a spec will touch: files read, hub ids, folders written, the
environment variables it reads and the code it runs, for people and (--format json) programs."""

from __future__ import annotations

import json

import numpy as np
from helpers import BASE, invoke

MOLRG = "  - {kind: molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 30, n_test: 20}\n"
NET = """\
import torch

def build():
    return torch.nn.Linear(6, 6)
"""


def test_the_footprint_lists_every_read_write_variable_and_code(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA", "data")
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data/toy.npz", x=np.zeros((8, 6), np.float32), y=np.arange(8) % 2)
    (tmp_path / "net.py").write_text(NET)
    (tmp_path / "base.yaml").write_text(BASE)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "extends: base.yaml\nstore: runs/s.zarr\ntrust_code: true\n"
        "model: {kind: python, file: net.py, factory: build}\n"
        + "datasets:\n"
        + MOLRG.replace(
            "molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 30, n_test: 20",
            "npz, name: d, path: '${DATA}/toy.npz'",
        )  # fmt: skip
    )
    r = invoke("validate", spec, "--env", "DATA", "--trust-code", "--format", "json")
    assert r.exit_code == 0, r.stderr
    (got,) = json.loads(r.stdout)
    t = got["touches"]
    assert got["ok"] and t["tree"] == str(tmp_path.resolve())
    assert t["reads"][:2] == [str(spec), str(tmp_path / "base.yaml")]
    assert str(tmp_path / "data/toy.npz") in t["reads"] and str(tmp_path / "net.py") in t["reads"]
    assert t["writes"] == [f"{tmp_path.resolve() / 'runs/s.zarr'} (the store)"]
    assert t["env"] == ["DATA"] and t["code"] == [f"{tmp_path / 'net.py'}:build"]
    assert t["hub"] == []
    # the table says the same to a person
    table = invoke("validate", spec, "--env", "DATA", "--trust-code").stderr
    assert f"{spec}: ok" in table and "runs code" in table and "(the store)" in table


TRAINED = """model:
  kind: diffusion
  network: {kind: mlp, width: 16}
  precond: {kind: vp, schedule: linear, T: 1000, prediction: eps}
  train: {data: m, epochs: 1}"""


def test_hub_ids_and_the_cache_of_a_trained_model(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # online: the run would download DiT
    spec = tmp_path / "s.yaml"
    spec.write_text(
        BASE.replace(
            "model: {kind: molrg-optimal}", "model: {kind: dit, id: facebook/DiT-XL-2-256}"
        ).replace("1e-3", "0.1")  # DiT's schedule starts at 0.01
    )
    r = invoke("validate", spec, "--format", "json")
    assert r.exit_code == 0, r.stderr  # validation reads no weights: the id stays a hub id
    assert json.loads(r.stdout)[0]["touches"]["hub"] == ["facebook/DiT-XL-2-256"]
    spec.write_text(BASE.replace("model: {kind: molrg-optimal}", TRAINED).replace("1e-3", "0.1"))
    r = invoke("validate", spec, "--format", "json")
    assert r.exit_code == 0, r.stdout
    writes = json.loads(r.stdout)[0]["touches"]["writes"]
    assert writes[1].endswith("(checkpoint and data cache)")


def test_json_lists_errors_and_exits_2(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(BASE + "store: /elsewhere.zarr\n")
    r = invoke("validate", spec, "--format", "json")
    assert r.exit_code == 2
    (got,) = json.loads(r.stdout)
    assert not got["ok"] and "--store PATH" in got["errors"][0]
