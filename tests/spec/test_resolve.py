"""Environment variables (path fields only) and `--set` overrides: typed, validated, hashed."""

from __future__ import annotations

import pytest
from helpers import BASE, errors

from reprdyn.spec import SpecError, spec_hash, validate_text


def test_env_expansion_in_path_fields(monkeypatch):
    import os

    monkeypatch.setenv("RD_STORE", "from-env.zarr")
    text = BASE + "store: ${RD_STORE}\ncompute: {cache: '${RD_CACHE:-cache}'}\n"
    spec = validate_text(text, allow_env=["RD_STORE", "RD_CACHE"])
    assert spec.store == os.path.abspath("from-env.zarr")
    assert spec.compute.cache == os.path.abspath("cache")
    with pytest.raises(SpecError) as e:
        validate_text(BASE + "store: ${RD_UNSET_VAR}\n", allow_env=["RD_UNSET_VAR"])
    assert "store: environment variable RD_UNSET_VAR is not set" in str(e.value.issues[0])


def test_env_is_never_copied_into_other_values(monkeypatch):
    """A shared spec that names ${SECRET} in a probe name, a dataset name or a free string is
    refused at that value; the secret never reaches the spec, its hash or a store."""
    monkeypatch.setenv("RD_SECRET_TOKEN", "hunter2")
    for text in (
        BASE.replace("name: t", "name: ${RD_SECRET_TOKEN}"),
        BASE + "probes: [{kind: ridge, name: 'p${RD_SECRET_TOKEN:-none}'}]\n",
    ):
        out = errors(text)
        assert out and "expanded only in path fields" in out[0] and "hunter2" not in "".join(out)


def test_set_overrides_are_typed_validated_and_hashed():
    base = validate_text(BASE)
    spec = validate_text(
        BASE, "s.yaml", ["datasets[0].n_train=40", "label_noise=[0, 0.4]", "compute.device=cpu"]
    )
    assert (
        spec.datasets[0].n_train == 40
        and spec.label_noise == [0.0, 0.4]
        and spec.compute.device == "cpu"
    )
    assert spec_hash(spec) != spec_hash(base)
    with pytest.raises(SpecError) as e:
        validate_text(BASE, "s.yaml", ["label_noise=[0, 1.5]"])
    assert str(e.value.issues[0]).startswith(
        "--set label_noise=[0, 1.5]:1:1: label_noise[1]: Input should be less"
    )
    with pytest.raises(SpecError, match="expected PATH=VALUE"):
        validate_text(BASE, "s.yaml", ["label_noise"])
    with pytest.raises(SpecError, match=r"has no item \[3\]"):
        validate_text(BASE, "s.yaml", ["datasets[3].n=4"])
    with pytest.raises(SpecError, match="unknown key 'widht'"):
        validate_text(BASE, "s.yaml", ["compute.widht=3"])
