"""Run a spec end to end: plan -> create the store -> executor -> summary."""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import store as st
from . import sweep as sw
from .budget import preflight
from .executors import get_executor
from .plan import Task, plan
from .query import SummaryRow, summarize
from .spec import Spec, canonical, resolved, spec_hash, to_yaml
from .tasks import Context

log = logging.getLogger("reprdyn")


class TasksFailed(Exception):
    """Some tasks failed; the others ran and are in the store."""

    def __init__(self, failures: list[dict], summary: list[SummaryRow]):
        self.failures, self.summary = failures, summary
        super().__init__(f"{len(failures)} task(s) failed: " + "; ".join(f"{f['task']}: {f['error']}"
                                                                         for f in failures[:3]))


def run(spec: Spec, store: str | Path | None = None, spec_text: str | None = None,
        on_start: Callable[[Task], None] | None = None,
        on_done: Callable[[Task], None] | None = None, force: bool = False,
        on_train_step: Callable[[str, int, int, float], None] | None = None,
        wait: bool = False, spec_bases: dict[str, str] | None = None,
        dask: str | None = None) -> list[SummaryRow]:
    """Run the tasks of `spec` into `store` (default: the spec's own) and return the summary.

    Tasks the store already holds are skipped unless `force`. `spec_text` is
    the spec as written, kept verbatim in the store; without it the canonical
    form is stored in its place; `spec_bases` holds the text of each file it
    `extends`, keyed by path. The store is locked for the run (`wait` queues
    behind another run instead of refusing). Failed tasks do not stop the
    others; they raise `TasksFailed` at the end. `dask` is the address of a
    Dask scheduler to run on (default `$REPRDYN_DASK_ADDRESS`); a spec never
    names one.
    """
    dask = dask or os.environ.get("REPRDYN_DASK_ADDRESS") or None
    path = str(store or spec.store_path)
    text = spec_text if spec_text is not None else json.dumps(canonical(spec), indent=2)
    prov = st.provenance(text, spec_hash(spec), canonical(spec), resolved(spec), spec_bases)
    if spec.sweep:
        return _run_sweep(spec, path, prov, on_start, on_done, force, on_train_step, wait, dask)
    st.check_destination(path, prov)  # refuse before anything is created
    ctx = Context(spec, path, on_train_step)
    preflight(ctx, log.info)  # load and check every model, estimate sizes, refuse over the spec's limits
    with st.StoreLock(path, wait=wait):
        st.create(path, prov, fresh=force)
        tasks = plan(spec)
        st.write_plan(path, tasks)
        done = st.done_keys(path)
        todo = [t for t in tasks if t.key not in done]
        failures: list[dict] = []

        def finished(task: Task) -> None:
            st.mark_done(path, task.key, task.label)
            if on_done:
                on_done(task)

        def failed(task: Task, error: str) -> None:
            failures.append({"key": task.key, "task": task.label, "error": error})

        executor = "dask" if dask else spec.compute.executor
        get_executor(executor)(todo, ctx, on_start, finished, failed, address=dask)
        st.record_failures(path, failures)
        st.consolidate(path)
        summary = summarize(path) if not any(f["task"].startswith("data ") for f in failures) else []
    if failures:
        raise TasksFailed(failures, summary)
    return summary


def _run_sweep(spec: Spec, path: str, prov: dict, on_start, on_done, force: bool, on_train_step,
               wait: bool, dask: str | None) -> list[SummaryRow]:
    """Run every sweep point into its own store under `path`; the parent store lists them.

    Adding values to a sweep keeps its store (same identity): finished points are
    reused and only new ones run.
    """
    pts = sw.points(spec)
    info = sw.layout(spec, pts)
    prov = {**prov, "sweep": json.dumps(info)}
    old = st.read_attrs(path)
    grows = old is not None and "sweep" in old and json.loads(old["sweep"])["identity"] == info["identity"]
    if not grows:
        st.check_destination(path, prov)
    rows: list[SummaryRow] = []
    failures: list[dict] = []
    with st.StoreLock(path, wait=wait):
        if grows and not force:
            st.update_attrs(path, prov)
        else:
            st.create(path, prov, fresh=force)
        for point in pts:
            log.info("sweep point %s", point.label)
            head = f"# sweep point {point.label} of {spec.name}\n"
            try:
                got = run(point.spec, Path(path) / point.folder, head + to_yaml(resolved(point.spec)), on_start,
                          on_done, force, on_train_step, dask=dask)
            except TasksFailed as e:
                got = e.summary
                failures += [{**f, "task": f"[{point.label}] {f['task']}"} for f in e.failures]
            rows += [replace(r, point=point.label) for r in got]
    if failures:
        raise TasksFailed(failures, rows)
    return rows


def train(spec: Spec, on_train_step: Callable[[str, int, int, float], None] | None = None,
          on_done: Callable[[Task], None] | None = None) -> list[tuple[Task, str, bool]]:
    """Train (or find in the cache) every checkpoint the spec needs; no store is written.

    Returns each train task with its checkpoint path and whether it was trained now.
    """
    ctx = Context(spec, "", on_train_step)
    out = []
    for task in plan(spec):
        if task.stage == "train":
            variant = task.param("variant", 0)
            ctx.denoiser(task.param("model"), task.dataset, variant, label=task.label)
            out.append((task, *ctx.checkpoints[(task.param("model"), variant)]))
            if on_done:
                on_done(task)
    return out


def plan_status(spec: Spec, store: str | Path | None = None) -> list[tuple[Task, str]]:
    """Each planned task with 'done' or 'pending' against the store (if it is this spec's);
    for a sweep, every point's tasks, labelled with the point."""
    path = str(store or spec.store_path)
    if spec.sweep:
        return [(replace(t, dataset=f"{t.dataset} [{p.label}]"), status) for p in sw.points(spec)
                for t, status in plan_status(p.spec, Path(path) / p.folder)]
    attrs = st.read_attrs(path)
    done = st.done_keys(path) if attrs and attrs.get("spec_hash") == spec_hash(spec) else set()
    return [(t, "done" if t.key in done else "pending") for t in plan(spec)]


def describe_layers(spec: Spec) -> dict[str, dict[str, tuple[int, ...]]]:
    """Every hookable layer of each model with its per-sample output shape, on the first dataset.

    Untrained networks have the same shapes as trained ones, so nothing is trained.
    """
    out = {}
    for (name, cfg), shapes in zip(spec.model_items(), Context(spec, "").layer_shapes(spec.datasets[0].name).values()):
        shapes["output"] = (int(np.prod(shapes["output"])),)  # probed flattened
        out[name or cfg.kind] = shapes
    return out


def spec_of(store: str | Path) -> str:
    """The exact resolved spec a store was written from, as YAML that re-runs to the same cube."""
    from .spec import to_yaml

    attrs = st.Results(store).attrs
    if "spec_resolved" not in attrs:
        raise st.StoreError(f"{store}: this store keeps no resolved spec (written by an older reprdyn)")
    head = f"# resolved spec of {store} (spec hash {attrs['spec_hash'][:16]})\n"
    return head + to_yaml(json.loads(attrs["spec_resolved"]))


def _canonical_of(path: str | Path) -> tuple[dict, bool]:
    """(canonical spec, is a store) for a spec file or a store."""
    from .spec import load_spec

    p = Path(path)
    attrs = st.read_attrs(p)
    if attrs is not None:
        return json.loads(attrs["spec_canonical"]), True
    if p.is_dir():
        raise st.StoreError(f"{p}: neither a spec file nor a reprdyn store")
    return canonical(load_spec(p, trust_code=True)), False  # comparing imports no code


def diff(a: str | Path, b: str | Path) -> dict:
    """Semantic differences between two specs or stores: spec fields, and for two stores the metrics
    on their shared coordinates (max and mean |difference| per dataset and variable)."""
    import numpy as np
    import xarray as xr

    (ca, sa), (cb, sb) = _canonical_of(a), _canonical_of(b)
    out = {"fields": st.diff_fields(ca, cb), "metrics": []}
    if sa and sb:
        ra, rb = st.Results(a), st.Results(b)
        for name in sorted(set(ra.datasets) & set(rb.datasets)):
            da, db = ra[name], rb[name]
            for var in sorted(set(da.data_vars) & set(db.data_vars)):
                try:
                    x, y = xr.align(da[var], db[var], join="inner")
                except ValueError:
                    continue
                if x.size == 0:
                    continue
                d = np.abs(x.values - y.values)
                if np.isfinite(d).any():
                    out["metrics"].append({"dataset": name, "variable": var, "shared": int(x.size),
                                           "max_abs_diff": float(np.nanmax(d)), "mean_abs_diff": float(np.nanmean(d))})
    return out


def _chosen(rows: list[SummaryRow]) -> dict | None:
    """The store's headline, chosen on validation data alone: the (point, model, layer, input, probe) whose
    validation accuracy at its sigma* is highest, with the test accuracy there."""
    rows = [r for r in rows if np.isfinite(r.val_accuracy)]
    if not rows:
        return None
    r = max(rows, key=lambda r: r.val_accuracy)
    what = "/".join(x for x in (r.point, r.dataset, r.model, r.layer, r.input, r.probe) if x)
    return {"what": what, "best_sigma": r.best_sigma, "val_accuracy": r.val_accuracy,
            "test_accuracy": r.best_accuracy}


def catalog(folder: str | Path, max_depth: int = 4) -> list[dict]:
    """Every reprdyn store under `folder`: name, spec hash, status, creation time, size, and the headline
    chosen on validation data (never the best test number)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise st.StoreError(f"{folder}: not a folder")
    found, stack = [], [(folder, 0)]
    while stack:
        here, depth = stack.pop()
        attrs = st.read_attrs(here) if (here / "zarr.json").exists() else None
        if attrs is not None:
            found.append((here, attrs))
            continue  # a store's own subfolders hold no stores
        if depth < max_depth:
            stack += [(c, depth + 1) for c in sorted(here.iterdir(), reverse=True) if c.is_dir()]
    rows = []
    for path, attrs in sorted(found):
        try:
            tasks = st.task_status(path)
            status = ("failed" if any(t["status"] == "failed" for t in tasks) else
                      "complete" if all(t["status"] == "done" for t in tasks) else "partial")
        except st.StoreError:
            status = "partial"
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        rows.append({"store": str(path), "name": json.loads(attrs["spec_canonical"]).get("name"),
                     "spec_hash": attrs["spec_hash"][:12], "status": status, "created": attrs.get("created"),
                     "size_bytes": size, "best": _chosen(summarize(path)) if status != "partial" else None})
    return rows
