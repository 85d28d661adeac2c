"""`reprdyn init` templates: one per shipped spec family, each valid, commented and
schema-linked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import allowed_env, stand_in_data

from reprdyn.spec import load_spec
from reprdyn.spec.jsonschema import export, export_base
from reprdyn.templates import BASE_SCHEMA_FILE as BASE_FILE
from reprdyn.templates import TEMPLATES, InitError, init, template_text

SHIPPED = Path(__file__).parents[1] / "specs"


def test_every_shipped_spec_family_has_a_template():
    assert {p.stem for p in SHIPPED.glob("*.yaml")} <= set(TEMPLATES)


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_template_writes_a_valid_commented_spec(tmp_path, name, monkeypatch):
    spec_file, *built, schema, base = init(name, tmp_path / "exp" / f"my-{name}.yaml")
    stand_in_data(spec_file, tmp_path / "data", monkeypatch)  # the image folders it reads
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # online: the run would download models
    text = spec_file.read_text()
    assert text.startswith("# yaml-language-server: $schema=reprdyn.schema.json\n")
    assert sum(line.lstrip().startswith("#") or " # " in line for line in text.splitlines()) >= 5
    spec = load_spec(spec_file, allow_env=allowed_env(spec_file))  # the grants its header names
    assert spec.name == f"my-{name}"  # named after the file
    assert json.loads(schema.read_text()) == export()  # the strict schema reprdyn ships
    assert json.loads(base.read_text()) == export_base()  # and the one for base files
    assert "{file}" not in text and str(spec_file) in text


def test_init_defaults_refusals_and_schema_care(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (written, _, _) = init()
    assert written == Path("molrg-theory.yaml") and load_spec(written).name == "molrg-theory"
    with pytest.raises(InitError, match="already exists; pass --force"):
        init()
    init(force=True)
    with pytest.raises(InitError, match="unknown template 'cifar'; expected one of molrg-theory"):
        init("cifar")
    with pytest.raises(InitError, match="ends in .yaml"):
        init(path="spec.txt")
    (tmp_path / "other").mkdir()
    foreign = tmp_path / "other" / "reprdyn.schema.json"
    foreign.write_text('{"not": "ours"}')
    written = init(path=tmp_path / "other")  # a folder
    assert written == [tmp_path / "other" / "molrg-theory.yaml", tmp_path / "other" / BASE_FILE]
    assert foreign.read_text() == '{"not": "ours"}'  # someone else's file is never overwritten


def test_template_text_is_the_packaged_file():
    assert template_text("digits-unet").count("kind: unet") == 1
