"""Store: round trip through zarr, provenance, refusal to clobber, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
import xarray.testing as xrt
from conftest import SMALL

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


def test_metric_cube_round_trip(small_store, small_spec):
    res = store.open_store(small_store)
    ds = res["toy"].load()
    again = xr.open_zarr(str(small_store), group="datasets/toy/metrics", consolidated=False).load()
    xrt.assert_allclose(
        ds,
        again.assign_coords(
            {c: again[c].astype(object) for c in ("layer", "probe", "input", "class")}
        ),
    )
    acc = ("replicate", "sigma", "layer", "label_noise", "seed", "probe", "input")
    assert ds["accuracy"].dims == acc and ds["accuracy_ci"].dims == (*acc, "bound")
    assert ds["accuracy_boot"].dims == (*acc, "boot") and ds.sizes["boot"] == 1000
    assert ds["class_accuracy"].dims[-1] == "class" and ds["csnr"].dims == (
        "replicate",
        "sigma",
        "layer",
        "input",
        "class",
    )
    assert ds["csnr_theory"].dims == ("sigma",)
    assert ds["ensemble_accuracy"].dims == ("replicate", *acc[2:])
    for v in ds.data_vars:
        if v != "ensemble_members":
            assert np.isfinite(ds[v].values).all(), v
    f = res.features("toy", "output")["features"]
    assert f.dims == ("replicate", "sigma", "input", "sample", "channel")
    assert f.shape == (1, 5, 1, 500, 12)
    assert set(f["split"].values) == {"train", "test"}
    np.testing.assert_array_equal(res.data("toy")["label"].values, f["label"].values)
    assert res.data("toy")["U"].shape == (3, 12, 2)


def test_provenance(small_store, small_spec):
    a = store.open_store(small_store).attrs
    assert a["spec"] == SMALL and a["spec_hash"] == spec_hash(small_spec)
    assert json.loads(a["spec_canonical"]) == json.loads(
        json.dumps(canonical(small_spec), sort_keys=True)
    )
    assert a["versions"]["zarr"].startswith("3") and "created" in a and "git_commit" in a


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


def test_manifest_tolerates_torn_line(tmp_path):
    tmp_path.joinpath(store.MANIFEST).write_text('{"key": "a"}\n{"key": "b"}\n{"ke')
    assert store.done_keys(tmp_path) == {"a", "b"}


def test_open_errors(tmp_path, small_store):
    with pytest.raises(store.StoreError, match="not a reprdyn store"):
        store.open_store(tmp_path / "nope")
    with pytest.raises(store.StoreError, match="unknown dataset 'x'"):
        store.open_store(small_store)["x"]
    with pytest.raises(store.StoreError, match="unknown layer 'h'"):
        store.open_store(small_store).features("toy", "h")


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


def test_provenance_records_the_hardware(small_store):
    import torch

    hw = store.read_attrs(small_store)["hardware"]
    assert hw["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert hw["gpus"] == [] or all(isinstance(g, str) for g in hw["gpus"])
    assert hw["machine"] and hw["cpu_count"] >= 1
