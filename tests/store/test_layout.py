"""The store's layout: regions round-trip through zarr, refusal to clobber, whole-chunk writes,
allocation that keeps finished work, damaged stores, CF conventions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
import xarray.testing as xrt
from helpers import SMALL, copy_store

from reprdyn import store
from reprdyn.spec import canonical, spec_hash, validate_text


def test_region_round_trip(tmp_path):
    path = tmp_path / "s.zarr"
    store.create(path, {"format": store.FORMAT, "spec_hash": "h", "spec_canonical": "{}"})
    tpl = xr.Dataset(
        {"a": (("sigma", "layer"), np.full((3, 2), np.nan))},
        coords={"sigma": [0.1, 1.0, 10.0], "layer": np.array(["x", "y"], dtype=object)},
    )
    store.allocate(path, "g", tpl, {"a": {"sigma": 1}})
    part = xr.Dataset(
        {"a": (("sigma", "layer"), [[1.0, 2.0]])}, coords={"sigma": [1.0], "layer": tpl.layer}
    )
    store.write_region(path, "g", part)
    back = store.open_group(path, "g").load()
    want = tpl.copy(deep=True)
    want["a"][1] = [1.0, 2.0]
    xrt.assert_identical(back, want)


def test_cf_conventions(small_store):
    """Every variable and coordinate has a long_name and units; coordinates have no fill value;
    `unimodal` is a boolean."""
    res = store.open_store(small_store)
    for ds in (res["toy"], res.features("toy", "output"), res.data("toy")):
        for name in ds.variables:
            attrs = ds[name].attrs
            assert attrs.get("long_name") and attrs.get("units"), name
    assert res["toy"]["accuracy"].attrs["units"] == "1"
    assert res["toy"]["unimodal"].dtype == bool
    for grp in ("datasets/toy/metrics", "datasets/toy/data", "datasets/toy/features/output"):
        for child in (c for c in (small_store / grp).iterdir() if c.is_dir()):
            meta = json.loads((child / "zarr.json").read_text())
            dims = meta.get("dimension_names") or []
            if dims == [child.name] or child.name in ("label", "split"):
                assert "_FillValue" not in meta.get("attributes", {}), f"{grp}/{child.name}"


def test_refuses_foreign_folder_and_other_spec(tmp_path, small_store):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(store.StoreError, match="exists and is not a reprdyn store"):
        store.create(foreign, {"format": store.FORMAT, "spec_hash": "x", "spec_canonical": "{}"})
    assert (foreign / "thesis.tex").read_text() == "precious"
    other = validate_text(SMALL.replace("delta: 0.3", "delta: 0.2"))
    prov = store.provenance("x", spec_hash(other), canonical(other))
    with pytest.raises(
        store.StoreError,
        match=r"different spec; differing fields:\n  datasets\[0\]\.delta: 0.3 -> 0.2",
    ):
        store.create(small_store, prov)


def test_row_writer_writes_whole_chunks(tmp_path):
    import zarr

    xr.Dataset({"f": (("s", "n", "c"), np.full((2, 10, 3), np.nan, np.float32))}).to_zarr(
        tmp_path / "w.zarr", mode="w", consolidated=False, encoding={"f": {"chunks": (1, 4, 3)}}
    )
    arr = zarr.open_array(str(tmp_path / "w.zarr" / "f"), mode="r+")
    w = store.RowWriter(arr, (1,), 4)
    rows = np.arange(30, dtype=np.float32).reshape(10, 3)
    for start in range(0, 10, 2):
        w.add(start, rows[start : start + 2])
        if start == 0:
            assert np.isnan(arr[1]).all()  # buffered until a chunk is full
    w.flush()
    np.testing.assert_array_equal(arr[1], rows)
    assert np.isnan(arr[0]).all()


def test_allocation_keeps_what_finished_tasks_wrote(small_store, tmp_path):
    """Re-running the data task (its line lost) re-allocates nothing that exists."""
    import zarr
    from helpers import SMALL

    from reprdyn.spec import validate_text
    from reprdyn.store import cube

    path = copy_store(small_store, tmp_path / "s.zarr")
    before = zarr.open_array(str(path / "datasets/toy/metrics/accuracy"), mode="r")[...]
    spec = validate_text(SMALL)
    store.allocate(
        path, "datasets/toy/metrics", cube.template(spec, ["0", "1", "2"]), cube.chunks(spec)
    )
    after = zarr.open_array(str(path / "datasets/toy/metrics/accuracy"), mode="r")[...]
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("damage", ["chunk", "attrs", "shape", "sweep-point"])
def test_damaged_stores_are_clear_errors(small_store, tmp_path, damage):
    from typer.testing import CliRunner

    from reprdyn.cli import app

    path = copy_store(small_store, tmp_path / "s.zarr")
    if damage == "chunk":
        chunk = next((path / "datasets/toy/metrics/accuracy/c").rglob("*"))
        while chunk.is_dir():
            chunk = next(chunk.iterdir())
        chunk.write_bytes(chunk.read_bytes()[:20])
        want = "variable 'accuracy'"
    elif damage == "attrs":
        meta = json.loads((path / "zarr.json").read_text())
        meta["attributes"]["spec_canonical"] = 5
        (path / "zarr.json").write_text(json.dumps(meta))
        want = "attribute 'spec_canonical' is damaged"
    elif damage == "shape":
        f = path / "datasets/toy/metrics/accuracy/zarr.json"
        meta = json.loads(f.read_text())
        meta["shape"][1] = 10**12
        f.write_text(json.dumps(meta))
        want = "1,000,000,000,000 long along 'sigma'"
    else:
        meta = json.loads((path / "zarr.json").read_text())
        other = tmp_path / "elsewhere.zarr"
        meta["attributes"]["sweep"] = json.dumps(
            {"identity": "x", "dims": ["n"], "points": [{"values": {"n": 1}, "store": str(other)}]}
        )
        (path / "zarr.json").write_text(json.dumps(meta))
        want = "outside the sweep store"
    for cmd in (
        ["query", str(path), "accuracy"],
        ["report", str(path), "--out", str(tmp_path / "r.html")],
        ["plot", str(path), "--figure", "curves", "--out", str(tmp_path / "c.png")],
        ["diff", str(small_store), str(path)],
    ):
        r = CliRunner().invoke(app, cmd)
        assert r.exit_code == 2, (cmd, r.output)
        assert want in r.stderr and str(path) in r.stderr and "Traceback" not in r.output
