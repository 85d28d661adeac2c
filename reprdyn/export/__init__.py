"""Export stage: a store's results written to an experiment tracker, so others can browse them.

`runs` turns a store into tracker-neutral records (a run for the store, one per result cell);
an adapter per tracker writes them. Trackers are declared once, in TRACKERS; another tracker
follows the MLflow adapter: a class taking keyword options with a `write(StoreRun) -> dict`.

Importing this package loads nothing heavy (the command line reads TRACKERS for its choices).
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

from ..errors import StoreError, lookup

# name -> (module, class, what it writes to)
TRACKERS = {
    "mlflow": ("reprdyn.export.to_mlflow", "MlflowTracker", "an MLflow tracking store or server"),
}
DEFAULT_MLFLOW_URI = "sqlite:///mlflow.db"  # MLflow's own default backend, in the current folder

__all__ = ["TRACKERS", "export", "tracker"]


def tracker(name: str, **options):
    """The adapter for tracker `name`, built with `options`."""
    module, cls, _ = lookup(TRACKERS, name, "tracker")
    try:
        return getattr(importlib.import_module(module), cls)(**options)
    except ModuleNotFoundError as e:  # the tracker's extra is not installed
        raise StoreError(str(e)) from None


def export(
    store: str | Path,
    to: str = "mlflow",
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    artifact_location: str | None = None,
    partial: bool = False,
) -> dict:
    """Write a finished store's runs to a tracker; what was written (run ids, counts).

    The tracking URI defaults to $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the current
    folder; the experiment to the spec's name.
    """
    from .runs import store_run

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_MLFLOW_URI
    adapter = tracker(  # first: a missing extra is said before any work
        to, tracking_uri=uri, experiment=experiment, artifact_location=artifact_location
    )
    with tempfile.TemporaryDirectory(prefix="reprdyn-export-") as tmp:
        run = store_run(store, Path(tmp), partial=partial)
        result = adapter.write(run)  # a tracker that refuses raises StoreError
    return {"store": str(store), "cells": len(run.cells), **result}
