"""Verify a store: does what its manifest says is finished hold values, and can every array be
read? `reprdyn verify STORE [--repair]`.

The manifest is the store's record of finished tasks; a task's results are written before its line.
A store edited, truncated or half-copied can disagree with it: a line for a task whose region is
empty (NaN, as allocated), a chunk that no longer decompresses, a line that cannot be read. Each
stage's check reads the region its tasks own. `repair` keeps the manifest lines whose tasks check
out, so the next `reprdyn run` redoes the rest and everything computed from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StoreError
from ..store import (
    MANIFEST,
    PLAN,
    group,
    load_group,
    manifest,
    open_group,
    require_attrs,
    sweep_points,
    write_manifest,
)


@dataclass(frozen=True)
class Finding:
    """One disagreement: where (a task's label, or the manifest line), and what is wrong."""

    where: str
    problem: str
    key: str | None = None  # the task's key, when it is about a finished task


def verify(path: str | Path, repair: bool = False) -> list[Finding]:
    """Every disagreement between the store's manifest and its arrays (and, with `repair`, the
    manifest rewritten to the tasks that check out); a sweep store's points one by one."""
    path = Path(path)
    attrs = require_attrs(path)
    if "sweep" in attrs:
        return [
            Finding(f"[{json.dumps(values)}] {f.where}", f.problem, f.key)
            for values, sub in sweep_points(attrs, path)
            if (sub / "zarr.json").exists()
            for f in verify(sub, repair)
        ]
    rows, bad = manifest(path)
    found = [Finding(f"{path / MANIFEST}:{i}", "this line cannot be read") for i in bad]
    try:
        plan = {r["key"]: _with_dataset(r) for r in json.loads((path / PLAN).read_text())}
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        raise StoreError(f"{path}: the task plan (plan.json) is missing or damaged") from None
    metrics = _metrics(path, plan, found)
    for row in rows:
        task = plan.get(row["key"])
        if task is None:
            continue  # a line of a task this spec no longer plans: harmless
        problem = _check(path, task, metrics)
        if problem:
            found.append(Finding(task["task"], problem, task["key"]))
    if repair and found:
        wrong = {f.key for f in found if f.key}
        write_manifest(path, [r for r in rows if r["key"] not in wrong])
    return found


def _with_dataset(row: dict) -> dict:
    """A plan row with its dataset (a plan written before rows carried it: from the label)."""
    if "dataset" not in row:
        row = {**row, "dataset": row["task"].split()[1], "params": {}}
    return row


def _metrics(path: Path, plan: dict, found: list) -> dict:
    """Each dataset's metric cube, read whole (a variable that cannot be read is a finding)."""
    out = {}
    for dataset in sorted({r.get("dataset") for r in plan.values() if r.get("dataset")}):
        try:
            out[dataset] = load_group(path, group(dataset, "metrics"))
        except StoreError as e:
            found.append(Finding(f"dataset {dataset}", str(e)))
        except (FileNotFoundError, KeyError):
            pass  # its data task has not run
    return out


def _check(path: Path, task: dict, metrics: dict) -> str | None:
    """What is wrong with a finished task's region, or None."""
    stage, dataset, p = task["stage"], task.get("dataset"), task.get("params") or {}
    if stage == "train":
        return None  # a checkpoint lives in the cache, not the store
    if stage == "data":
        try:
            load_group(path, group(dataset, "data"))
            return None if dataset in metrics else "its metric cube is missing or unreadable"
        except (StoreError, FileNotFoundError, KeyError) as e:
            return f"its data group is missing or unreadable ({e})"
    ds = metrics.get(dataset)
    if ds is None:
        return "its dataset's metric cube is missing or unreadable"
    check = CHECKS.get(stage)
    return check(path, ds, task, p) if check else None


def _where(ds, p: dict, *names: str) -> dict:
    """The selection of a task's region: its model (multi-model cubes), replicate(s) and the
    named params (those that are dims of `ds`)."""
    sel = {k: p[k] for k in names if k in p and k not in ("model", "replicate")}
    if "model" in ds.dims and p.get("model"):
        sel["model"] = p["model"]
    if "replicate" in p and p["replicate"] != "all":
        sel["replicate"] = p["replicate"]
    return sel


def _filled(da, what: str) -> str | None:
    values = np.asarray(da.values, dtype=float)
    if not np.isfinite(values).any():
        return f"its region of {what} holds no value (as allocated: never written)"
    return None


def _features(path, ds, task, p):
    if "sigma" not in p:
        return None  # a plan written before rows carried their params: nothing to select by
    feature_dir = Path(path) / group(task["dataset"], "features")
    layers = (
        sorted(c.name for c in feature_dir.iterdir() if c.is_dir()) if feature_dir.is_dir() else []
    )
    for layer in layers:
        try:
            f = open_group(path, group(task["dataset"], "features", layer))["features"]
            region = f.sel(_where(f, p) | {"sigma": p["sigma"]}, method=None)
            if np.isnan(np.asarray(region.values)).any():
                return f"its features of layer {layer!r} hold NaN (never written, or cut short)"
        except StoreError as e:
            return str(e)
        except Exception as e:  # noqa: BLE001 - a corrupt chunk
            return f"its features of layer {layer!r} cannot be read ({type(e).__name__}: {e})"
    return None


def _compare(path, ds, task, p):
    from ..stages.compare import DIFFERENCES

    present = [n for n in DIFFERENCES if n in ds]
    return next((m for n in present if (m := _filled(ds[n], n))), None)


def _metrics_of(stage: str):
    """The check of a stage's task: the region it owns of the variable each of its metrics
    checks (`Metric.checked`) holds a value."""
    from .. import metrics

    def check(path, ds, task, p):
        found = [
            (name, ds[name])
            for m in metrics.registry().values()
            if str(m.stage) == stage and (name := m.checked()) and name in ds
        ]
        problems = [_filled(da.sel(_where(da, p, *da.dims)), name) for name, da in found]
        return next((x for x in problems if x), None)

    return check


# what each stage's finished task must have left in the store
CHECKS = {
    "features": _features,
    "compare": _compare,
    **{s: _metrics_of(s) for s in ("theory", "probe", "analysis", "segment", "generate")},
}
