"""`reprdyn export --to mlflow`: everything written is read back with MLflow's own client from a
local SQLite tracking store, and a second export adds only what is missing."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from helpers import SMALL, copy_store, invoke

from reprdyn.export.runs import store_run

pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, _small_store):
    """SMALL's store exported once into a fresh SQLite tracking store: (client, result, dir)."""
    tmp = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    # from a private copy: no other test can change what this module's export read
    result = _export(copy_store(_small_store, tmp / "small.zarr"), uri, tmp)
    return MlflowClient(tracking_uri=uri), result, tmp


def _export(store, uri, tmp, *extra) -> dict:
    r = invoke(
        "export", str(store), "--to", "mlflow", "--tracking-uri", uri,
        "--artifact-location", str(tmp / "artifacts"), "--format", "json", *extra,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _children(client, result):
    return client.search_runs(
        [result["experiment_id"]], f"tags.`mlflow.parentRunId` = '{result['run_id']}'"
    )


def test_the_store_run_holds_spec_provenance_and_figures(tracked, tmp_path):
    client, result, tmp = tracked
    assert result["experiment"] == "small" and result["store_run"] == "created"
    parent = client.get_run(result["run_id"])
    assert parent.info.status == "FINISHED" and parent.info.run_name == "small"
    assert parent.data.params["spec.model.kind"] == "molrg-optimal"
    names = {a.path for a in client.list_artifacts(result["run_id"])}
    assert {"spec.yaml", "spec.resolved.yaml", "provenance.json", "summary.json"} <= names
    spec = client.download_artifacts(result["run_id"], "spec.yaml", str(tmp_path))
    assert open(spec).read() == SMALL
    prov = json.loads(open(client.download_artifacts(result["run_id"], "provenance.json")).read())
    assert prov["spec_hash"] == parent.data.params["spec.hash"]
    figures = {a.path for a in client.list_artifacts(result["run_id"], "figures/toy")}
    assert {"figures/toy/curves.png", "figures/toy/shape.png"} <= figures
    tables = {a.path for a in client.list_artifacts(result["run_id"], "tables")}
    assert "tables/shapes.json" in tables  # every summary table with rows, as the run prints it
    shapes = json.loads(
        open(client.download_artifacts(result["run_id"], "tables/shapes.json")).read()
    )
    assert shapes and {"shape", "prob", "probs", "label_noise"} <= set(shapes[0])
    assert str(tmp / "artifacts") in parent.info.artifact_uri  # where the user said


def test_one_child_run_per_cell_with_sigma_as_the_step(tracked, small_store, tmp_path):
    client, result, _ = tracked
    expected = {c.name: c for c in store_run(small_store, tmp_path).cells}
    children = _children(client, result)
    assert {r.info.run_name for r in children} == set(expected) and result["cells_written"] == len(
        expected
    )
    for run in children:
        cell = expected[run.info.run_name]
        rid = run.info.run_id
        assert run.data.params["cell.layer"] == cell.cell["layer"]
        assert run.data.params["spec.hash"] == run.data.tags["reprdyn.spec_hash"]
        sigma = sorted((m.step, m.value) for m in client.get_metric_history(rid, "sigma"))
        assert sigma == list(enumerate(cell.sigma))
        acc = sorted((m.step, m.value) for m in client.get_metric_history(rid, "accuracy"))
        np.testing.assert_allclose([v for _, v in acc], cell.curves["accuracy"], rtol=1e-12)
        for name in ("best_accuracy", "best_accuracy_low", "best_accuracy_high", "best_sigma"):
            assert run.data.metrics[name] == pytest.approx(cell.metrics[name], rel=1e-12)


@pytest.mark.slow  # three MLflow exports each
def test_a_second_export_adds_only_what_is_missing(tmp_path, small_store):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    first = _export(small_store, uri, tmp_path)
    client = MlflowClient(tracking_uri=uri)
    lost = _children(client, first)[0]
    client.delete_run(lost.info.run_id)  # as if the first export had stopped before it
    second = _export(small_store, uri, tmp_path)
    assert second["run_id"] == first["run_id"] and second["store_run"] == "found"
    assert (second["cells_written"], second["cells_found"]) == (1, first["cells_written"] - 1)
    assert len(_children(client, second)) == first["cells_written"]
    third = _export(small_store, uri, tmp_path)
    assert third["cells_written"] == 0


@pytest.mark.slow  # three MLflow exports each
def test_an_export_cut_short_is_finished_by_the_next(tmp_path, small_store):
    """A store run without its `reprdyn.complete` tag gets its artifacts again; a cell run left
    RUNNING is replaced."""
    import shutil
    from urllib.parse import urlparse

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    first = _export(small_store, uri, tmp_path)
    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run(first["run_id"])
    shutil.rmtree(urlparse(parent.info.artifact_uri).path)  # its artifacts never arrived
    client.delete_tag(first["run_id"], "reprdyn.complete")
    cell = _children(client, first)[0]
    client.update_run(cell.info.run_id, status="RUNNING")  # stopped while logging its metrics
    second = _export(small_store, uri, tmp_path)
    assert second["run_id"] == first["run_id"] and second["cells_written"] == 1
    assert "spec.yaml" in {a.path for a in client.list_artifacts(first["run_id"])}
    children = _children(client, second)
    assert len(children) == first["cells_written"]
    assert all(r.info.status == "FINISHED" for r in children)
    assert cell.info.run_id not in {r.info.run_id for r in children}


def test_a_tracker_that_refuses_is_a_clear_error(small_store, tmp_path):
    r = invoke("export", str(small_store), "--to", "mlflow", "--tracking-uri", "bogus://nowhere")
    assert r.exit_code == 2, r.output
    assert "mlflow at bogus://nowhere" in r.stderr and "Traceback" not in r.output


def test_without_mlflow_installed_it_says_which_extra(small_store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now fails
    r = invoke("export", str(small_store), "--to", "mlflow", "--tracking-uri", "sqlite:///x.db")
    assert r.exit_code == 2, r.output
    assert "pip install 'reprdyn[mlflow]'" in r.stderr


def test_an_unknown_tracker_lists_the_known_ones(small_store):
    r = invoke("export", str(small_store), "--to", "wandb")
    assert r.exit_code == 2 and "mlflow" in r.output
