"""Run a spec end to end: preflight -> plan -> create the store -> executor -> summary; sweeps point
by point.

Also `train` (checkpoints only), `plan_status` and `describe_layers`. Reading
stores back is `query`, `catalog` and `store.Results`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..models import layers
from ..plan import Task, plan
from ..plan.sweep import layout as sweep_layout
from ..plan.sweep import points as sweep_points
from ..read.summary import SummaryRow, summarize
from ..spec import Spec, canonical, resolved, spec_hash, to_yaml
from ..spec.patterns import has_patterns
from ..store import (
    Ledger,
    StoreLock,
    check_destination,
    consolidate,
    create,
    done_keys,
    pending,
    provenance,
    read_attrs,
    update_attrs,
)
from .budget import preflight
from .context import Context, task_threads, use_threads
from .executors import get_executor
from .machine import check_machine
from .options import Hooks, RunOptions, TasksFailed

log = logging.getLogger("reprdyn")


def run(spec: Spec, store: str | Path | None = None, options: RunOptions | None = None):
    """Run the tasks of `spec` into `store` (default: the spec's own) and return the summary.

    How the run goes is one `RunOptions` (see there): re-running finished tasks, waiting for the
    store's lock, a Dask scheduler, the machine check, the spec's text and the hooks a caller
    hears. Failed tasks do not stop the others; they raise `TasksFailed` at the end.
    """
    o = options or RunOptions()
    how = How(
        o.hooks,
        o.force,
        o.wait,
        o.dask or os.environ.get("REPRDYN_DASK_ADDRESS") or None,
        not o.ignore_machine_limits,
    )
    path = str(store or spec.store_path)
    text = o.spec_text if o.spec_text is not None else json.dumps(canonical(spec), indent=2)
    ctx = None
    if not spec.sweep:  # a sweep's points are made concrete one by one
        spec, ctx = concrete(spec)
    prov = provenance(text, spec_hash(spec), canonical(spec), resolved(spec), o.spec_bases)
    # results are bit-identical per thread count
    prov["threads"] = task_threads(spec.compute.threads)
    if spec.sweep:
        return _run_sweep(spec, path, prov, how)
    return _run_one(spec, path, prov, how, ctx)


def concrete(spec: Spec) -> tuple[Spec, Context | None]:
    """The spec with its layer patterns expanded against the models' real layers, which loads (or
    builds, untrained) the models first, and the context that holds them; a spec without patterns
    comes back as it is. The concrete spec is the one planned, hashed and stored, so a pattern and
    the list it expands to are the same run."""
    if not has_patterns(spec):
        return spec, None
    ctx = Context.create(spec)
    shapes = ctx.models.layer_shapes(spec.datasets[0].name)
    return layers.concrete(spec, shapes), ctx


@dataclass(frozen=True)
class How:
    """How a run goes, the same at every sweep point."""

    hooks: Hooks
    force: bool  # re-run finished tasks
    wait: bool  # queue behind another run holding the store
    dask: str | None  # a scheduler's address
    fit_check: bool  # refuse a run the machine cannot hold


def _run_one(
    spec: Spec, path: str, prov: dict, how: How, loaded: Context | None = None
) -> list[SummaryRow]:
    # the cheap refusals first: another spec's store, a run that cannot fit this machine, a store
    # another run holds; only then the data and models are loaded
    if check_destination(path, prov) and prov.get("threads") != read_attrs(path).get("threads"):
        log.warning(
            "%s was written with %s torch thread(s), this run uses %s: results of the tasks left "
            "to run can differ at float rounding",
            path,
            read_attrs(path).get("threads"),
            prov.get("threads"),
        )
    if how.fit_check:
        check_machine(spec, path)
    hooks = how.hooks
    with StoreLock(path, wait=how.wait, on_wait=hooks.wait) as lock:
        try:
            use_threads(spec.compute.threads)
            if loaded is not None:  # the models that expanded the layer patterns
                ctx = loaded.rebind(spec, path, hooks.train_step)
            else:
                ctx = Context.create(spec, path, hooks.train_step)
            # load and check every model, estimate sizes, refuse over the spec's limits
            preflight(ctx, log.info)
        except BaseException:
            lock.discard_if_new()  # bad input touches no store: a folder made for it goes
            raise
        create(path, prov, fresh=how.force)
        ledger = Ledger(path)
        todo = ledger.begin(plan(spec))
        if hooks.plan:
            hooks.plan(todo)

        def finished(task: Task) -> None:
            ledger.done(task)
            if hooks.done:
                hooks.done(task)

        executor = get_executor("dask" if how.dask else spec.compute.executor)
        executor(todo, ctx, hooks.start, finished, ledger.failed, address=how.dask)
        ledger.end()
        consolidate(path)
        summary = summarize(path) if not ledger.data_failed else []
    if ledger.failures:
        raise TasksFailed(ledger.failures, summary)
    return summary


def _run_sweep(spec: Spec, path: str, prov: dict, how: How) -> list[SummaryRow]:
    """Run every sweep point into its own store under `path`; the parent store lists them.

    Adding values to a sweep keeps its store (same identity): finished points are
    reused and only new ones run.
    """
    pts = sweep_points(spec)
    info = sweep_layout(spec, pts)
    prov = {**prov, "sweep": info}
    old = read_attrs(path)
    grows = old is not None and "sweep" in old and old["sweep"]["identity"] == info["identity"]
    if not grows:
        check_destination(path, prov)
    rows: list[SummaryRow] = []
    failures: list[dict] = []
    with StoreLock(path, wait=how.wait, on_wait=how.hooks.wait):
        if grows and not how.force:
            update_attrs(path, prov)
        else:
            create(path, prov, fresh=how.force)
        for point in pts:
            got, lost = _run_point(spec, point, path, prov["threads"], how)
            rows += got
            failures += lost
    if failures:
        raise TasksFailed(failures, rows)
    return rows


def _run_point(spec: Spec, point, path: str, threads, how: How) -> tuple[list, list[dict]]:
    """One sweep point into its own store (the sweep store's lock is held): its rows, labelled
    with the point, and its failures."""
    log.info("sweep point %s", point.label)
    concrete_spec, loaded = concrete(point.spec)
    text = f"# sweep point {point.label} of {spec.name}\n" + to_yaml(resolved(point.spec))
    prov = provenance(
        text, spec_hash(concrete_spec), canonical(concrete_spec), resolved(concrete_spec)
    )
    prov["threads"] = threads
    try:
        # the sweep store's lock covers its points
        where, how = str(Path(path) / point.folder), replace(how, wait=False)
        got, failures = _run_one(concrete_spec, where, prov, how, loaded), []
    except TasksFailed as e:
        got = e.summary
        failures = [{**f, "task": f"[{point.label}] {f['task']}"} for f in e.failures]
    return [replace(r, point=point.label) for r in got], failures


def train(
    spec: Spec,
    on_train_step: Callable[[str, int, int, float], None] | None = None,
    on_done: Callable[[Task], None] | None = None,
) -> list[tuple[Task, str, bool]]:
    """Train (or find in the cache) every checkpoint the spec needs; no store is written.

    Returns each train task with its checkpoint path and whether it was trained now.
    """
    ctx = Context.create(spec, "", on_train_step)
    use_threads(spec.compute.threads)
    out = []
    for task in plan(spec):
        if task.stage == "train":
            p = task.params
            model, variant, r = p.model, p.variant or 0, p.replicate
            ctx.models.denoiser(model, task.dataset, variant, r, label=task.label)
            out.append((task, *ctx.models.checkpoints[(model, r, variant)]))
            if on_done:
                on_done(task)
    return out


def plan_status(spec: Spec, store: str | Path | None = None) -> list[tuple[Task, str]]:
    """Each planned task with 'done' or 'pending' against the store (if it is this spec's);
    for a sweep, every point's tasks, labelled with the point."""
    path = str(store or spec.store_path)
    if spec.sweep:
        return [
            (replace(t, dataset=f"{t.dataset} [{p.label}]"), status)
            for p in sweep_points(spec)
            for t, status in plan_status(p.spec, Path(path) / p.folder)
        ]
    spec, _ = concrete(spec)
    attrs = read_attrs(path)
    done = done_keys(path) if attrs and attrs.get("spec_hash") == spec_hash(spec) else set()
    tasks = plan(spec)
    todo = {t.key for t in pending(tasks, done)}
    return [(t, "pending" if t.key in todo else "done") for t in tasks]


def describe_layers(spec: Spec) -> dict[str, dict[str, tuple[int, ...]]]:
    """Every hookable layer of each model with its per-sample output shape, on the first dataset.

    Untrained networks have the same shapes as trained ones, so nothing is trained.
    """
    out = {}
    shapes_of = Context.create(spec).models.layer_shapes(spec.datasets[0].name)
    for (name, cfg), shapes in zip(spec.model_items(), shapes_of.values()):
        shapes["output"] = (int(np.prod(shapes["output"])),)  # probed flattened
        out[name or cfg.kind] = shapes
    return out
