"""The store commands: status, spec, diff, ls."""

from __future__ import annotations

import json

from helpers import invoke


def test_status_json_and_failures(small_spec_file, small_store, tmp_path, monkeypatch):
    r = invoke("status", small_store)
    assert r.exit_code == 0 and "8 done, 0 pending, 0 failed" in r.stdout
    rows = json.loads(invoke("status", small_store, "--format", "json").stdout)
    assert {row["status"] for row in rows} == {"done"}
    r = invoke("run", small_spec_file, "--store", small_store, "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)  # stdout holds only JSON
    assert doc["failed"] == [] and doc["summary"][0]["dataset"] == "toy"
    import reprdyn.stages.theory as theory

    def broken(task, ctx, io):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(theory, "run", broken)
    store = tmp_path / "f.zarr"
    r = invoke("run", small_spec_file, "--store", store)
    assert r.exit_code == 1 and "failed: theory toy: RuntimeError: disk on fire" in r.stderr
    r = invoke("status", store)
    assert "7 done, 0 pending, 1 failed" in r.stdout and "disk on fire" in r.stdout
    monkeypatch.undo()
    assert invoke("run", small_spec_file, "--store", store).exit_code == 0  # a re-run retries it
    assert "8 done" in invoke("status", store).stdout


def test_spec_from_store_reruns_to_the_same_cube(small_store, tmp_path):
    """The README's recipe as written: `reprdyn spec S > x.yaml && reprdyn run x.yaml --store S`
    resumes S (the header says so; the YAML names no store, which is the runner's choice), and
    `--store` elsewhere reproduces it."""
    import xarray.testing as xrt

    import reprdyn

    r = invoke("spec", small_store)
    assert f"reprdyn run THIS.yaml --store {small_store.resolve()}" in r.stdout
    assert "\nstore:" not in r.stdout
    x = tmp_path / "x.yaml"
    x.write_text(r.stdout)
    resumed = invoke("run", x, "--store", small_store)
    assert resumed.exit_code == 0 and str(small_store.resolve()) in resumed.stdout, resumed.stderr
    assert r.exit_code == 0 and r.stdout.startswith("# resolved spec of")
    again = tmp_path / "again.yaml"
    again.write_text(r.stdout)
    from reprdyn.spec import load_spec, spec_hash

    assert spec_hash(load_spec(again)) == reprdyn.open(small_store).attrs["spec_hash"]
    assert invoke("run", again, "--store", tmp_path / "again.zarr").exit_code == 0
    xrt.assert_identical(
        reprdyn.open(small_store)["toy"].load(), reprdyn.open(tmp_path / "again.zarr")["toy"].load()
    )
    r = invoke("diff", small_store, tmp_path / "again.zarr")
    assert r.exit_code == 0 and "no differences" in r.stdout
    d = json.loads(invoke("diff", small_store, tmp_path / "again.zarr", "--format", "json").stdout)
    assert d["fields"] == [] and all(m["max_abs_diff"] == 0 for m in d["metrics"]) and d["metrics"]


def test_diff_specs(small_spec_file, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(
        small_spec_file.read_text()
        .replace("delta: 0.3", "delta: 0.25")
        .replace("seeds: [0, 1]", "seeds: [0]")
    )
    r = invoke("diff", small_spec_file, other)
    assert r.exit_code == 0
    assert "datasets[0].delta: 0.3 -> 0.25" in r.stdout and "seeds: [0, 1] -> [0]" in r.stdout
    assert invoke("diff", small_spec_file, tmp_path / "missing.yaml").exit_code == 2


def test_ls_folder_catalog(small_store, tmp_path):
    r = invoke("ls", small_store.parent, "--format", "json")
    assert r.exit_code == 0
    (row,) = [x for x in json.loads(r.stdout) if x["store"] == str(small_store)]
    assert row["name"] == "small" and row["status"] == "complete" and row["size_bytes"] > 0
    assert (
        0.3 < row["best"]["test_accuracy"] <= 1
        and row["best"]["what"] == "toy/output/clean/logistic"
    )
    r = invoke("ls", small_store.parent)
    assert r.exit_code == 0 and "complete" in r.stdout
