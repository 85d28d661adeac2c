"""Provenance: the spec as written and resolved, versions, hardware; format 1 stores still read."""

from __future__ import annotations

import json

import xarray as xr
from helpers import SMALL, copy_store

from reprdyn import store
from reprdyn.spec import canonical, spec_hash


def test_provenance(small_store, small_spec):
    a = store.open_store(small_store).attrs
    assert a["spec"] == SMALL and a["spec_hash"] == spec_hash(small_spec)
    assert a["spec_canonical"] == json.loads(json.dumps(canonical(small_spec), sort_keys=True))
    assert a["versions"]["zarr"].startswith("3") and "created" in a and "git_commit" in a
    # stored as JSON objects, not JSON inside strings (format 2)
    raw = json.loads((small_store / "zarr.json").read_text())["attributes"]
    assert raw["format_version"] == 2
    assert all(isinstance(raw[k], dict) for k in ("spec_canonical", "spec_resolved", "spec_bases"))


def test_format_1_stores_still_read(small_store, tmp_path):
    """Stores written before format 2 kept the spec as JSON text: they read the same."""
    path = copy_store(small_store, tmp_path / "old.zarr")
    meta = json.loads((path / "zarr.json").read_text())
    a = meta["attributes"]
    a["format_version"] = 1
    for k in ("spec_canonical", "spec_resolved", "spec_bases"):
        a[k] = json.dumps(a[k], sort_keys=True)
    (path / "zarr.json").write_text(json.dumps(meta))
    old, new = store.open_store(path), store.open_store(small_store)
    assert old.attrs["spec_canonical"] == new.attrs["spec_canonical"]
    xr.testing.assert_identical(old["toy"], new["toy"])


def test_provenance_records_the_hardware(small_store):
    import torch

    hw = store.read_attrs(small_store)["hardware"]
    assert hw["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert hw["gpus"] == [] or all(isinstance(g, str) for g in hw["gpus"])
    assert hw["machine"] and hw["cpu_count"] >= 1
