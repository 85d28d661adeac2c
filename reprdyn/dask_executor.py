"""The `dask` executor: the same task functions on a Dask distributed cluster.

An address given on the command line (`reprdyn run --dask ADDRESS`) or in `REPRDYN_DASK_ADDRESS`
connects to a running scheduler (for example one started by dask-jobqueue on SLURM), never one named
in a spec; otherwise a LocalCluster of `compute.n_workers` processes starts here. Tasks are
submitted in plan order with their dependencies, so Dask runs independent ones in parallel; each
worker builds its models once (a per-process Context cache) and writes its own, chunk-aligned zarr
regions. Only this process writes the manifest.
"""

from __future__ import annotations

import os

from . import stop
from .caches import Context
from .errors import describe
from .stages import Task, run_task
from .store import StoreIO

_CONTEXTS: dict[tuple[str, str], Context] = {}  # per worker process: (spec json, store) -> Context


def _context(spec, path: str) -> Context:
    key = (spec.model_dump_json(), path)
    if key not in _CONTEXTS:
        _CONTEXTS.clear()  # one spec at a time per worker keeps memory bounded
        _CONTEXTS[key] = Context.create(spec, path)
    return _CONTEXTS[key]


def _remote(task: Task, spec, path: str, *deps) -> str:
    """Runs on a worker. `deps` are upstream results, passed only so Dask orders the tasks."""
    run_task(task, _context(spec, path), StoreIO(path))  # at the spec's compute.threads
    return task.key


def _client(compute, address: str | None, gpu: bool = False):
    from distributed import Client, LocalCluster

    if address:
        return Client(address), None
    import dask

    env = dict(os.environ)
    try:
        # distributed's default worker environment trims malloc at 64 KiB, which makes every large
        # tensor allocation a fresh mmap: feature and probe tasks ran 3-6x slower on the workers
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(
                n_workers=compute.n_workers,
                threads_per_worker=compute.threads_per_worker,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
                # GPU tasks need a worker that has one
                resources={"GPU": 1} if gpu else None,
            )
    finally:  # distributed sets OMP_NUM_THREADS=1 and friends for its workers in *our* environment
        os.environ.clear()
        os.environ.update(env)
    return Client(cluster), cluster


def run_dask(
    tasks: list[Task],
    ctx: Context,
    on_start=None,
    on_done=None,
    on_fail=None,
    address: str | None = None,
) -> None:
    from distributed import as_completed

    compute = ctx.spec.compute
    resources = {"GPU": 1} if ctx.device.startswith("cuda") else None
    client, cluster = _client(compute, address, gpu=resources is not None)
    try:
        futures, by_future = {}, {}
        for task in tasks:  # plan order: dependencies are submitted first
            deps = [futures[d] for d in task.deps if d in futures]
            if on_start:
                on_start(task)
            fut = client.submit(
                _remote,
                task,
                ctx.spec,
                ctx.path,
                *deps,
                key=f"{task.stage}-{task.key}",
                retries=compute.retries,
                resources=resources,
                pure=False,
            )
            futures[task.key], by_future[fut.key] = fut, task
        failed: set[str] = set()
        for fut in as_completed(list(futures.values())):
            if stop.REQUESTED.is_set():  # SIGTERM: what is still running is redone on resume
                client.cancel(list(futures.values()))
                stop.check()
            task = by_future[fut.key]
            if fut.status == "finished":
                if on_done:
                    on_done(task)
                continue
            failed.add(task.key)
            if on_fail:
                upstream = failed & set(task.deps)
                on_fail(
                    task,
                    "skipped: a task it depends on failed"
                    if upstream
                    else describe(fut.exception()),
                )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
