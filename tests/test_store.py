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
    assert a["spec_canonical"] == json.loads(json.dumps(canonical(small_spec), sort_keys=True))
    assert a["versions"]["zarr"].startswith("3") and "created" in a and "git_commit" in a
    # stored as JSON objects, not JSON inside strings (format 2)
    raw = json.loads((small_store / "zarr.json").read_text())["attributes"]
    assert raw["format_version"] == 2
    assert all(isinstance(raw[k], dict) for k in ("spec_canonical", "spec_resolved", "spec_bases"))


def test_format_1_stores_still_read(small_store, tmp_path):
    """Stores written before format 2 kept the spec as JSON text: they read the same."""
    path = _copy(small_store, tmp_path / "old.zarr")
    meta = json.loads((path / "zarr.json").read_text())
    a = meta["attributes"]
    a["format_version"] = 1
    for k in ("spec_canonical", "spec_resolved", "spec_bases"):
        a[k] = json.dumps(a[k], sort_keys=True)
    (path / "zarr.json").write_text(json.dumps(meta))
    old, new = store.open_store(path), store.open_store(small_store)
    assert old.attrs["spec_canonical"] == new.attrs["spec_canonical"]
    xr.testing.assert_identical(old["toy"], new["toy"])


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


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_lost_data_line_reruns_everything_downstream_and_loses_nothing(small_store, tmp_path):
    """Repro of the review: drop the data task's manifest line and run again. Everything computed
    from the data is redone (not just the data task re-allocating empty arrays), and the cube is the
    same as before."""
    from conftest import SMALL

    import reprdyn
    from reprdyn.spec import validate_text

    path = _copy(small_store, tmp_path / "s.zarr")
    lines = (path / store.MANIFEST).read_text().splitlines()
    (path / store.MANIFEST).write_text("\n".join(lines[1:]) + "\n")  # the data task's line goes
    ran = []
    reprdyn.run(validate_text(SMALL), store=path, on_start=ran.append)
    assert ran[0].stage == "data" and len(ran) == len(lines)  # all of it, downstream included
    xrt.assert_identical(reprdyn.open(small_store)["toy"].load(), reprdyn.open(path)["toy"].load())


def test_an_unreadable_manifest_line_is_an_error_that_names_it(small_store, tmp_path):
    from conftest import SMALL
    from typer.testing import CliRunner

    from reprdyn.cli import app

    path = _copy(small_store, tmp_path / "s.zarr")
    lines = (path / store.MANIFEST).read_text().splitlines()
    lines[2] = "{garbled"
    (path / store.MANIFEST).write_text("\n".join(lines) + "\n")
    (tmp_path / "s.yaml").write_text(SMALL)
    r = CliRunner().invoke(app, ["run", str(tmp_path / "s.yaml"), "--store", str(path)])
    assert r.exit_code == 2 and f"{path / store.MANIFEST}:3: this manifest line" in r.stderr
    r = CliRunner().invoke(app, ["status", str(path)])
    assert r.exit_code == 2 and ":3:" in r.stderr


def test_a_torn_last_line_is_redone_and_cut_off(small_store, tmp_path):
    path = _copy(small_store, tmp_path / "s.zarr")
    text = (path / store.MANIFEST).read_text()
    keys = store.done_keys(path)
    (path / store.MANIFEST).write_text(text + '{"key": "abc", "ta')  # killed mid-write
    assert store.done_keys(path) == keys
    store.mark_done(path, "k2", "next")
    assert (path / store.MANIFEST).read_text() == text + json.dumps(
        json.loads((path / store.MANIFEST).read_text().splitlines()[-1])
    ) + "\n"


def test_verify_finds_an_emptied_region_and_repair_lets_the_run_redo_it(small_store, tmp_path):
    import zarr
    from conftest import SMALL
    from typer.testing import CliRunner

    import reprdyn
    from reprdyn.cli import app
    from reprdyn.spec import validate_text

    path = _copy(small_store, tmp_path / "s.zarr")
    r = CliRunner().invoke(app, ["verify", str(path)])
    assert r.exit_code == 0, r.output
    acc = zarr.open_array(str(path / "datasets/toy/metrics/val_accuracy"), mode="r+")
    acc[...] = np.nan  # the probe's results gone, its manifest line kept
    feats = zarr.open_array(str(path / "datasets/toy/features/output/features"), mode="r+")
    feats[0, 3] = np.nan  # and one sigma's features
    r = CliRunner().invoke(app, ["verify", str(path)])
    assert r.exit_code == 1
    assert "probe toy" in r.stderr and "val_accuracy holds no value" in r.stderr
    assert "features toy" in r.stderr and "hold NaN" in r.stderr
    r = CliRunner().invoke(app, ["verify", str(path), "--repair"])
    assert r.exit_code == 0 and "run the spec again" in r.stderr
    ran = []
    reprdyn.run(validate_text(SMALL), store=path, on_start=ran.append)
    assert {t.stage for t in ran} == {"features", "probe"}
    xrt.assert_identical(reprdyn.open(small_store)["toy"].load(), reprdyn.open(path)["toy"].load())
    assert CliRunner().invoke(app, ["verify", str(path)]).exit_code == 0


def test_allocation_keeps_what_finished_tasks_wrote(small_store, tmp_path):
    """Re-running the data task (its line lost) re-allocates nothing that exists."""
    import zarr
    from conftest import SMALL

    from reprdyn import cube
    from reprdyn.spec import validate_text

    path = _copy(small_store, tmp_path / "s.zarr")
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

    path = _copy(small_store, tmp_path / "s.zarr")
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
