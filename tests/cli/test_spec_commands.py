"""The spec commands: validate, schema, layers, train, init."""

from __future__ import annotations

import json

from helpers import invoke, trained_spec


def test_validate_ok_and_errors(small_spec_file, tmp_path):
    assert invoke("validate", small_spec_file).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(small_spec_file.read_text().replace("K: 3", "K: x") + "sigmas: [1]\n")
    r = invoke("validate", small_spec_file, bad)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert any(line.startswith(f"{bad}:6:") and "datasets[0].K" in line for line in lines)
    assert any("unknown key 'sigmas'; did you mean 'sigma'?" in line for line in lines)


def test_schema():
    r = invoke("schema")
    schema = json.loads(r.stdout)
    assert r.exit_code == 0 and schema["title"] == "reprdyn spec"
    assert schema["$schema"].endswith("2020-12/schema")


def test_layers(small_spec_file):
    r = invoke("layers", small_spec_file)
    assert r.exit_code == 0 and "output" in r.stdout and "(B, 12)" in r.stdout


def test_train_and_layers_for_a_trained_model(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "mlp.yaml"
    spec.write_text(
        trained_spec(
            width=32,
            train="steps: 5",
            n_train=60,
            grid="timesteps: [1, 100]",
            rest="layers: [fc2]\n",
        )
    )
    r = invoke("layers", spec)
    assert (
        r.exit_code == 0 and "fc2" in r.stdout and "(32,)" in r.stdout and "embed.mlp" in r.stdout
    )
    r = invoke("train", spec)
    assert r.exit_code == 0 and "trained" in r.stdout and ".pt" in r.stdout
    r = invoke("train", spec)
    assert r.exit_code == 0 and "cached" in r.stdout
    r = invoke("train", tmp_path.parent / "nothing.yaml")
    assert r.exit_code == 2


def test_init_command(tmp_path):
    r = invoke("init", "--list")
    assert r.exit_code == 0 and "digits-unet" in r.stdout
    target = tmp_path / "mine.yaml"
    r = invoke("init", "--template", "molrg-mlp", target)
    assert r.exit_code == 0 and f"wrote {target}" in r.stderr
    assert invoke("validate", target).exit_code == 0
    r = invoke("init", "--template", "molrg-mlp", target)
    assert r.exit_code == 2 and "already exists" in r.stderr
    assert invoke("init", "-t", "nope", tmp_path / "x.yaml").exit_code == 2
