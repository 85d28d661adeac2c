"""Layer shapes kept on disk: the same network's shapes come back without torch; another network,
other data or other code never reads them; a broken entry is rebuilt."""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from helpers import ROOT

from reprdyn.compute.extract import layer_shapes
from reprdyn.models import shape_cache
from reprdyn.models.build import untrained_denoiser
from reprdyn.spec import load_spec

UNET = ROOT / "specs" / "glyphs-unet.yaml"


def test_put_then_get_is_the_traced_shapes_and_keys_tell_networks_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path))
    spec = load_spec(UNET, checks=False)
    shape = (1, 16, 16)
    assert shape_cache.get(spec.model, shape) is None
    net = untrained_denoiser(spec.model, shape)
    traced = layer_shapes(net, torch.zeros(2, *shape, device="meta"), spec.sigmas[0])
    shape_cache.put(spec.model, shape, traced)
    assert shape_cache.get(spec.model, shape) == traced
    assert shape_cache.get(spec.model, (1, 32, 32)) is None  # other data
    wider = load_spec(UNET, ["model.network.channels=8"], checks=False)
    assert shape_cache.get(wider.model, shape) is None  # another network
    (entry,) = (tmp_path / "layers").glob("*.json")
    entry.write_text("{not json")
    assert shape_cache.get(spec.model, shape) is None  # a broken entry is a miss


def test_the_cpu_trace_equals_the_meta_trace():
    from reprdyn.runner.checks import _traced

    spec = load_spec(UNET, checks=False)
    net = untrained_denoiser(spec.model, (1, 16, 16))
    meta = layer_shapes(net, torch.zeros(2, 1, 16, 16, device="meta"), spec.sigmas[0])
    assert _traced(spec.model, (1, 16, 16), spec.sigmas[0]) == meta


def test_a_second_validation_does_not_import_torch(tmp_path):
    code = (
        "import sys\nfrom reprdyn.spec import load_spec\n"
        f"load_spec({str(UNET)!r})\n"
        "print(sorted(m for m in sys.modules if m == 'torch'))\n"
    )
    env = {"REPRDYN_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]
    assert [json.loads(r.stdout.replace("'", '"')) for r in runs] == [["torch"], []], runs
    assert len(list((tmp_path / "layers").glob("*.json"))) == 1
