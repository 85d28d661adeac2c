"""The tiny random SD and FLUX folders `reprdyn init -t sd-tiny / flow-tiny` writes: real diffusers
classes that load through `kind: sd` and `kind: flow`; and the whole templates end to end on a CPU,
with the summary, a figure and the report."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers import invoke

import reprdyn
from reprdyn.models.tiny import build
from reprdyn.templates import InitError, init

pytest.importorskip("diffusers")
pytest.importorskip("transformers")


def test_an_unknown_tiny_model_and_a_missing_extra_are_clear(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown tiny model 'gan'; expected one of sd, flux"):
        build("gan", tmp_path / "x")
    monkeypatch.setitem(sys.modules, "diffusers", None)  # `import diffusers` now fails
    with pytest.raises(InitError, match=r"pip install 'reprdyn\[diffusers\]'"):
        init("sd-tiny", tmp_path / "s.yaml")
    assert not (tmp_path / "s.yaml").exists()  # nothing half-written


@pytest.mark.slow
@pytest.mark.parametrize("template, folder", [("sd-tiny", "tiny-sd"), ("flow-tiny", "tiny-flux")])
def test_a_tiny_template_runs_end_to_end(tmp_path, monkeypatch, template, folder):
    monkeypatch.chdir(tmp_path)
    written = init(template)
    assert Path(folder) in written and (tmp_path / folder / "vae").is_dir()
    r = invoke("run", f"{template}.yaml")
    assert r.exit_code == 0, r.stderr
    assert "acc@σ*" in r.stdout  # the summary
    ds = reprdyn.open(tmp_path / "store" / f"{template}.zarr")["glyphs"]
    assert ds["accuracy"].notnull().all()
    store = tmp_path / "store" / f"{template}.zarr"
    assert invoke("plot", store, "--figure", "curves", "--out", tmp_path / "c.png").exit_code == 0
    assert invoke("report", store, "--out", tmp_path / "r.html").exit_code == 0
    again = init(template, force=True)  # a second init keeps nothing stale
    assert Path(folder) in again
