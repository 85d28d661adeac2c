"""The tracker-neutral export records: one run per store and per cell, their curves and headlines
read back against the store's own cube and summary."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SMALL, copy_store

from reprdyn.errors import StoreError
from reprdyn.export.runs import clean_key, digest, flatten, store_run
from reprdyn.read.summary import summarize
from reprdyn.store import Results


def test_flatten_gives_dotted_parameters_a_tracker_accepts():
    tree = {"model": {"kind": "x", "train": {"epochs": 3}}, "datasets": [{"name": "a"}, {"n": 2}]}
    tree["sigma"], tree["sweep"] = [0.1, 1.0], {"datasets[0].n_train": [64, 128]}
    assert flatten(tree) == {
        "model.kind": "x",
        "model.train.epochs": "3",
        "datasets.0.name": "a",
        "datasets.1.n": "2",
        "sigma": "[0.1, 1.0]",
        "sweep.datasets_0_.n_train": "[64, 128]",
    }
    assert clean_key("a=b@c/d e:f") == "a_b_c/d e_f"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, _small_store):
    """SMALL's store exported once for this module, from a private copy (no other test can change
    what it read), with every figure drawn: a figure skipped with a warning fails here, with its
    reason, instead of going missing further down."""
    import logging

    tmp = tmp_path_factory.mktemp("export")
    store = copy_store(_small_store, tmp / "small.zarr")
    (tmp / "artifacts").mkdir()
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = seen.append
    log = logging.getLogger("reprdyn")
    log.addHandler(handler)
    try:
        run = store_run(store, tmp / "artifacts")
    finally:
        log.removeHandler(handler)
    assert not seen, [r.getMessage() for r in seen]
    return run


def test_one_cell_per_probe_curve_with_the_mean_curve_and_its_interval(exported, small_store):
    ds = Results(small_store)["toy"]
    acc = ds["accuracy"].sel(label_noise=0.0)
    cells = exported.cells
    assert {(c.cell["layer"], c.cell["input"], c.cell["probe"]) for c in cells} == {
        (str(x), str(i), str(p))
        for x in ds.layer.values
        for i in ds.input.values
        for p in ds.probe.values
        if np.isfinite(acc.sel(layer=x, input=i, probe=p).values).any()
    }
    for c in cells:
        at = {k: c.cell[k] for k in ("layer", "input", "probe")}
        mean = acc.sel(**at).mean(("replicate", "seed")).values  # computed here by xarray
        np.testing.assert_allclose(c.curves["accuracy"], mean, rtol=0, atol=1e-12)
        assert c.sigma == [float(s) for s in ds.sigma.values]
        low, high = np.array(c.curves["accuracy_low"]), np.array(c.curves["accuracy_high"])
        assert (low <= high).all() and (low < high).any()
        assert c.params["cell.dataset"] == "toy" and "cell.model" not in c.params


def test_headlines_are_the_summary_rows_with_every_label_noise_level(exported, small_store):
    rows = {(r.layer, r.input, r.probe): r for r in summarize(str(small_store))}
    for c in exported.cells:
        r = rows[(c.cell["layer"], c.cell["input"], c.cell["probe"])]
        m = c.metrics
        assert m["best_sigma"] == r.best_sigma
        assert (m["best_accuracy"], m["best_accuracy_low"], m["best_accuracy_high"]) == (
            r.best_accuracy.value,
            r.best_accuracy.low,
            r.best_accuracy.high,
        )
        assert m["ensemble_gain"] == r.ensemble_gain.value
        for noise in ("0", "0.4"):  # SMALL has two label-noise levels: Table 1 rides along
            assert f"label_noise_{noise}/ensemble_gain_low" in m
        assert all(np.isfinite(v) for v in m.values())


def test_the_store_run_carries_spec_provenance_summary_and_figures(exported):
    assert exported.name == "small"
    assert exported.artifacts["spec.yaml"].read_text() == SMALL
    assert "kind: molrg-optimal" in exported.artifacts["spec.resolved.yaml"].read_text()
    assert exported.spec_hash in exported.artifacts["provenance.json"].read_text()
    figures = [k for k in exported.artifacts if k.startswith("figures/toy/")]
    assert "figures/toy/curves.png" in figures
    for k in figures:
        assert exported.artifacts[k].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert exported.params["spec.model.kind"] == "molrg-optimal"
    assert exported.params["spec.hash"] == exported.spec_hash
    assert exported.tags["reprdyn.partial"] == "false"


def test_keys_are_stable_and_name_the_cell(exported, small_store, tmp_path):
    again = store_run(small_store, tmp_path)
    assert again.key == exported.key
    assert [c.key for c in again.cells] == [c.key for c in exported.cells]
    assert len({c.key for c in exported.cells}) == len(exported.cells)
    assert exported.key == digest(exported.spec_hash, digest(sorted(_done(small_store))))


def _done(path):
    import json

    return {json.loads(line)["key"] for line in (path / "manifest.jsonl").read_text().splitlines()}


def test_an_unfinished_store_is_refused_unless_partial(small_store_copy, tmp_path):
    store = small_store_copy
    manifest = store / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]))  # the last task is no longer done
    with pytest.raises(StoreError, match=r"1 of \d+ task\(s\) are not done.*--partial"):
        store_run(store, tmp_path)
    part = store_run(store, tmp_path, partial=True)
    assert part.tags["reprdyn.partial"] == "true"
