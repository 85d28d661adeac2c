"""The catalog of a folder of stores: complete, partial and failed told apart; headlines chosen on
validation."""

from __future__ import annotations

from pathlib import Path

import pytest

import reprdyn
from reprdyn import store as st
from reprdyn.plan import plan


def test_catalog_tells_complete_partial_and_failed_apart(small_spec, small_store, tmp_path):
    import shutil

    from reprdyn.read.catalog import catalog

    root = tmp_path / "stores"
    shutil.copytree(small_store, root / "done.zarr")
    shutil.copytree(small_store, root / "team/half.zarr")  # nested a level deeper
    lines = (root / "team/half.zarr" / st.MANIFEST).read_text().splitlines()
    (root / "team/half.zarr" / st.MANIFEST).write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    shutil.copytree(small_store, root / "bad.zarr")
    key = next(t for t in plan(small_spec) if t.stage == "probe")
    manifest = root / "bad.zarr" / st.MANIFEST
    manifest.write_text(
        "".join(x + "\n" for x in manifest.read_text().splitlines() if key.key not in x)
    )
    st.record_failures(root / "bad.zarr", [{"key": key.key, "task": key.label, "error": "boom"}])
    (root / "notes").mkdir()  # folders that are not stores are skipped
    rows = {Path(r["store"]).name: r for r in catalog(root)}
    assert {k: r["status"] for k, r in rows.items()} == {
        "done.zarr": "complete",
        "half.zarr": "partial",
        "bad.zarr": "failed",
    }
    assert rows["done.zarr"]["best"] is not None and rows["half.zarr"]["best"] is None
    assert len({r["spec_hash"] for r in rows.values()}) == 1


def test_catalog_headline_is_chosen_on_validation(tmp_path, monkeypatch):
    """Two probes; the one that is worse on validation is rigged to be perfect on test. The catalog
    reports the probe validation prefers, with its test accuracy at its own sigma*."""
    from helpers import SMALL

    import reprdyn.probes.protocol as tasks
    from reprdyn.read.catalog import catalog
    from reprdyn.spec import validate_text

    spec = validate_text(
        SMALL.replace(
            "probes: [{kind: logistic, transform: abs, standardize: false}]",
            "probes: [{kind: logistic, transform: abs, standardize: false},\n         {kind: "
            "ridge, name: raw}]",
        )
    )
    real = tasks.evaluate
    calls = []

    def rigged(test_logits, y_test, best, members, K):
        acc, cls, ens = real(test_logits, y_test, best, members, K)
        calls.append(1)
        if len(calls) == 2:  # the second probe task: ridge on raw features
            acc[:] = 1.0
        return acc, cls, ens

    monkeypatch.setattr(tasks, "evaluate", rigged)
    reprdyn.run(spec, store=tmp_path / "c" / "s.zarr")
    ds = reprdyn.open(tmp_path / "c" / "s.zarr")["toy"].isel(label_noise=0)
    assert float(ds["accuracy"].sel(probe="raw").max()) == 1.0  # the rigged probe wins on test ...
    (row,) = catalog(tmp_path / "c")
    assert row["best"]["what"] == "toy/output/clean/logistic"  # ... but validation picks the other
    assert row["best"]["test_accuracy"] == pytest.approx(
        float(ds["best_accuracy"].sel(probe="logistic").mean())
    )
