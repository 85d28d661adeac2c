"""The MLflow adapter: a store's runs written with MLflow's own client (the `mlflow` extra).

The store becomes a parent run (spec, provenance, summary and figures as artifacts; the spec as
parameters) and each cell a child run under it (`mlflow.parentRunId`), its curves stepped by the
sigma index. Runs are found again by their `reprdyn.key` tag, so exporting a store twice adds only
what the first export did not finish.
"""

from __future__ import annotations

from ..errors import StoreError
from .runs import CellRun, StoreRun

KEY_TAG, CELL_TAG, COMPLETE_TAG = "reprdyn.key", "reprdyn.cell", "reprdyn.complete"
MAX_PARAM = 6000  # MLflow's longest parameter value
BATCH = {"metrics": 1000, "params": 100, "tags": 100}  # MLflow's log_batch limits


def _mlflow():
    import logging

    for name in ("mlflow", "alembic"):  # their INFO lines (creating tables) are not ours to print
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import mlflow  # noqa: F401
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ModuleNotFoundError(
            "the mlflow exporter needs MLflow: pip install 'reprdyn[mlflow]'"
        ) from None
    return MlflowClient


def _param(value: str) -> str:
    """A parameter value within MLflow's limit (the whole spec is an artifact)."""
    return value if len(value) <= MAX_PARAM else value[: MAX_PARAM - 1] + "…"


class MlflowTracker:
    """Writes StoreRuns to one MLflow experiment at `tracking_uri` (None: named after the
    spec)."""

    def __init__(self, *, tracking_uri: str, experiment: str | None, artifact_location: str | None):
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_location = artifact_location
        self._client = _mlflow()  # MLflow's client class: a missing extra is said at once

    def write(self, run: StoreRun) -> dict:
        """Export `run`; what was written: the parent run id, cells written and already there.
        A tracking store that refuses (a bad URI, a server that is down) is a StoreError."""
        from mlflow.exceptions import MlflowException

        try:
            return self._write(run)
        except (MlflowException, OSError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StoreError(f"mlflow at {self.tracking_uri}: {first}") from None

    def _write(self, run: StoreRun) -> dict:
        client = self._client(tracking_uri=self.tracking_uri)
        name = self.experiment or run.name
        exp_id = self._experiment(client, name)
        parent, fresh = self._parent(client, exp_id, run)
        done = self._children(client, exp_id, parent)
        written = 0
        for cell in run.cells:
            if cell.key not in done:
                self._cell(client, exp_id, parent, run, cell)
                written += 1
        client.set_terminated(parent, "FINISHED")
        return {
            "tracker": "mlflow",
            "tracking_uri": self.tracking_uri,
            "experiment": name,
            "experiment_id": exp_id,
            "run_id": parent,
            "store_run": "created" if fresh else "found",
            "cells_written": written,
            "cells_found": len(run.cells) - written,
        }

    def _experiment(self, client, name: str) -> str:
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        return client.create_experiment(name, artifact_location=self.artifact_location)

    def _find(self, client, exp_id: str, query: str) -> list:
        runs, token = [], None
        while True:
            page = client.search_runs([exp_id], query, max_results=1000, page_token=token)
            runs += list(page)
            token = page.token
            if not token:
                return runs

    def _parent(self, client, exp_id: str, run: StoreRun) -> tuple[str, bool]:
        """The store's run: found by its key, else created. Its parameters and artifacts are
        (re)logged until a `reprdyn.complete` tag says an export finished them."""
        found = self._find(client, exp_id, f"tags.`{KEY_TAG}` = '{run.key}'")
        found = [r for r in found if CELL_TAG not in r.data.tags]
        if found and found[0].data.tags.get(COMPLETE_TAG) == "true":
            return found[0].info.run_id, False
        if found:
            rid = found[0].info.run_id  # an export stopped while writing it: finish it
        else:
            tags = {**run.tags, KEY_TAG: run.key}
            made = client.create_run(exp_id, run.created_ms, tags, run.name)
            rid = made.info.run_id
        self._log(client, rid, run.params, [])
        for rel, file in run.artifacts.items():
            folder = rel.rsplit("/", 1)[0] if "/" in rel else None
            client.log_artifact(rid, str(file), folder)
        client.set_tag(rid, COMPLETE_TAG, "true")
        return rid, not found

    def _children(self, client, exp_id: str, parent: str) -> set[str]:
        """Keys of the cells already exported under `parent`; a cell run an earlier export left
        unfinished is deleted, to be written again."""
        found = self._find(client, exp_id, f"tags.`mlflow.parentRunId` = '{parent}'")
        for r in found:
            if r.info.status != "FINISHED":
                client.delete_run(r.info.run_id)
        return {r.data.tags.get(KEY_TAG) for r in found if r.info.status == "FINISHED"}

    def _cell(self, client, exp_id: str, parent: str, run: StoreRun, cell: CellRun) -> None:
        from mlflow.entities import Metric

        tags = {
            **run.tags,
            **cell.tags,
            KEY_TAG: cell.key,
            CELL_TAG: cell.name,
            "mlflow.parentRunId": parent,
        }
        made = client.create_run(exp_id, start_time=run.created_ms, tags=tags, run_name=cell.name)
        rid, t = made.info.run_id, run.created_ms
        metrics = [Metric(k, v, t, 0) for k, v in cell.metrics.items()]
        for step, sigma in enumerate(cell.sigma):  # step = the sigma's index in the grid
            metrics.append(Metric("sigma", sigma, t, step))
            for name, values in cell.curves.items():
                if values[step] == values[step]:  # NaN: not logged
                    metrics.append(Metric(name, values[step], t, step))
        self._log(client, rid, cell.params, metrics)
        client.set_terminated(rid, "FINISHED")

    def _log(self, client, rid: str, params: dict, metrics: list) -> None:
        from mlflow.entities import Param

        params = [Param(k, _param(str(v))) for k, v in params.items()]
        for i in range(0, len(params), BATCH["params"]):
            client.log_batch(rid, params=params[i : i + BATCH["params"]])
        for i in range(0, len(metrics), BATCH["metrics"]):
            client.log_batch(rid, metrics=metrics[i : i + BATCH["metrics"]])
