"""The `dask` executor: the same task functions on a Dask distributed cluster.

An address given on the command line (`reprdyn run --dask ADDRESS`) or in `REPRDYN_DASK_ADDRESS`
connects to a running scheduler (for example one started by dask-jobqueue on SLURM), never one named
in a spec; otherwise a cluster starts here: `compute.n_workers` worker processes, or on a GPU
machine one worker per GPU (`gpu_cluster`). Tasks are submitted in plan order with their
dependencies, so Dask runs independent ones in parallel; each worker builds its models once (a
per-process Context cache) and writes its own, chunk-aligned zarr regions. Only this process
writes the manifest.

What the run hears is what happened: a task *starts* when a worker begins it (an event the worker
sends), a worker that dies is reported with the tasks it held, and a task's own error comes back
as a result (reprdyn's one-line message), so Dask neither retries it nor prints its traceback.
`compute.retries` is how many times the scheduler runs a task again after its worker died.
"""

from __future__ import annotations

import logging
import os
import queue
import re
from pathlib import Path

from .. import stop
from ..errors import describe
from ..stages import Task, run_task
from ..store import StoreIO
from .context import Context

log = logging.getLogger("reprdyn")
STARTED = "reprdyn-task-started"  # the event topic a worker reports a task's start on
GPU_WORKER = "REPRDYN_GPU_WORKER"  # set on workers that own one GPU (CUDA_VISIBLE_DEVICES)
_CONTEXTS: dict[tuple[str, str], Context] = {}  # per worker process: (spec json, store) -> Context


def _context(spec, path: str) -> Context:
    key = (spec.model_dump_json(), path)
    if key not in _CONTEXTS:
        _CONTEXTS.clear()  # one spec at a time per worker keeps memory bounded
        device = "cuda" if os.environ.get(GPU_WORKER) else None  # its one visible GPU
        _CONTEXTS[key] = Context.create(spec, path, device=device)
    return _CONTEXTS[key]


def _remote(task: Task, spec, path: str) -> dict:
    """Runs on a worker: says it started, runs the task, and returns what happened. Never raises
    for the task's own error, so Dask reruns only what a dead worker left undone."""
    from distributed import get_worker

    worker = get_worker()
    worker.log_event(STARTED, {"key": task.key, "worker": worker.address})
    try:
        run_task(task, _context(spec, path), StoreIO(path))  # at the spec's compute.threads
    except Exception as e:  # noqa: BLE001 - reported by the client, once
        return {"key": task.key, "status": "error", "error": describe(e), "worker": worker.address}
    return {"key": task.key, "status": "ok", "worker": worker.address}


def _local_environment():
    """distributed sets OMP_NUM_THREADS=1 and friends for its workers in *our* environment, and
    trims malloc at 64 KiB in theirs (every large tensor a fresh mmap: tasks ran 3-6x slower);
    this keeps ours and leaves malloc alone."""
    import contextlib

    import dask

    @contextlib.contextmanager
    def kept():
        env = dict(os.environ)
        try:
            with dask.config.set(
                {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
            ):
                yield
        finally:
            os.environ.clear()
            os.environ.update(env)

    return kept()


def gpu_cluster(gpus: list[str], threads: int = 1, host: str = "127.0.0.1"):
    """A cluster on this machine with one worker per GPU: worker i sees only GPU `gpus[i]`
    (CUDA_VISIBLE_DEVICES) and offers the resource GPU=1, so a GPU task runs one at a time on
    each."""
    from distributed import Nanny, Scheduler, SpecCluster

    workers = {
        f"gpu-{g}": {
            "cls": Nanny,
            "options": {
                "nthreads": threads,
                "host": host,
                "resources": {"GPU": 1},
                "env": {"CUDA_VISIBLE_DEVICES": str(g), GPU_WORKER: "1"},
            },
        }
        for g in gpus
    }
    scheduler = {"cls": Scheduler, "options": {"host": host, "dashboard_address": None}}
    with _local_environment():
        return SpecCluster(scheduler=scheduler, workers=workers, silence_logs=logging.ERROR)


def _client(compute, address: str | None, gpu: bool = False):
    from distributed import Client, LocalCluster

    if address:
        return Client(address), None
    if gpu:
        import torch

        cluster = gpu_cluster([str(i) for i in range(torch.cuda.device_count())])
        return Client(cluster), cluster
    with _local_environment():
        cluster = LocalCluster(
            n_workers=compute.n_workers,
            threads_per_worker=compute.threads_per_worker,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            silence_logs=logging.ERROR,
        )
    return Client(cluster), cluster


def _set_allowed_failures(client, n: int | None) -> int:
    """Set the scheduler's reruns of a task after its worker died; return the value it had."""

    def swap(dask_scheduler, n=n):
        old = dask_scheduler.allowed_failures
        if n is not None:
            dask_scheduler.allowed_failures = n
        return old

    return client.run_on_scheduler(swap)


def submit(client, task: Task, ctx: Context, resources: dict | None = None):
    """One task on the cluster (its upstream tasks have finished)."""
    return client.submit(
        _remote, task, ctx.spec, ctx.path,
        key=f"{task.stage}-{task.key}", resources=resources, pure=False,
    )  # fmt: skip


class _Ready:
    """Which tasks may go to the cluster: those whose upstream tasks (of this run) have finished.
    The cluster never holds a task waiting on another, so a lost worker loses only what it was
    running, and nothing finished is ever run again."""

    def __init__(self, tasks: list[Task], on_fail):
        self.waiting = list(tasks)  # plan order: dependencies first
        self.ours = {t.key for t in tasks}
        self.done: set[str] = set()
        self.broken: set[str] = set()
        self.on_fail = on_fail

    def take(self) -> list[Task]:
        """The tasks ready now (and, reported as skipped, those a failed task blocks)."""
        ready, still = [], []
        for task in self.waiting:
            need = set(task.deps) & self.ours
            if need & self.broken:
                self.broken.add(task.key)
                if self.on_fail:
                    self.on_fail(task, "skipped: a task it depends on failed")
            elif need <= self.done:
                ready.append(task)
            else:
                still.append(task)
        self.waiting = still
        return ready


class _Events:
    """What workers and the scheduler report while the run goes, handled in this thread: task
    starts, and workers lost with the tasks they were running."""

    def __init__(self, client, tasks: list[Task], retries: int):
        self.q: queue.Queue = queue.Queue()
        self.by_key = {t.key: t for t in tasks}  # content key -> task
        self.by_future = {f"{t.stage}-{t.key}": t for t in tasks}  # Dask key -> task
        self.retries = retries
        self.started: set[str] = set()
        client.subscribe_topic(STARTED, lambda event: self.q.put(("start", event[1])))
        client.subscribe_topic("all", lambda event: self.q.put(("all", event[1])))

    def drain(self, on_start) -> None:
        while True:
            try:
                kind, msg = self.q.get_nowait()
            except queue.Empty:
                return
            if kind == "start":
                self.start(self.by_key.get(f"{msg.get('key')}"), on_start)
            elif isinstance(msg, dict) and msg.get("action") == "remove-worker":
                self.lost(msg)

    def start(self, task: Task | None, on_start) -> None:
        if task is not None and task.key not in self.started:
            self.started.add(task.key)
            if on_start:
                on_start(task)

    def lost(self, msg: dict) -> None:
        if msg.get("expected"):
            return  # a worker retired on purpose (scaling down, closing)
        held = sorted(msg.get("processing-tasks", ()))
        labels = [self.by_future[k].label for k in held if k in self.by_future]
        if not labels:
            log.warning("worker %s was lost (it was running no task of this run)", msg["worker"])
            return
        log.warning(
            "worker %s was lost while running: %s. Dask runs them again on another worker "
            "(compute.retries: %d)",
            msg.get("worker"),
            "; ".join(labels),
            self.retries,
        )


def run_dask(
    tasks: list[Task],
    ctx: Context,
    on_start=None,
    on_done=None,
    on_fail=None,
    address: str | None = None,
) -> None:
    from distributed import wait

    compute = ctx.spec.compute
    resources = {"GPU": 1} if ctx.device.startswith("cuda") else None
    if address and (shadow := shadowing_folder()) is not None:
        logging.getLogger("reprdyn").warning(
            "%s is a folder without __init__.py: workers started in this folder (dask-jobqueue "
            "starts them in the folder you submit from) import it instead of the installed "
            "reprdyn, and every task fails to deserialize; start them from another folder",
            shadow,
        )
    client, cluster = _client(compute, address, gpu=resources is not None)
    before = _set_allowed_failures(client, compute.retries)
    try:
        ready, events = _Ready(tasks, on_fail), _Events(client, tasks, compute.retries)
        running = {}  # Dask key -> (future, task)
        while True:
            for task in ready.take():
                fut = submit(client, task, ctx, resources)
                running[fut.key] = (fut, task)
            if not running:
                break
            try:
                done, _ = wait([f for f, _ in running.values()], 0.5, "FIRST_COMPLETED")
            except TimeoutError:  # nothing finished in the last half second
                done = set()
            events.drain(on_start)
            if stop.REQUESTED.is_set():  # SIGTERM: what is still running is redone on resume
                client.cancel([f for f, _ in running.values()])
                stop.check()
            for fut in done:
                if fut.status not in ("finished", "error", "cancelled"):
                    continue  # its result was lost with its worker: Dask computes it again
                _, task = running.pop(fut.key)
                ok = _finished(fut, task, events, on_start, on_done, on_fail, compute)
                (ready.done if ok else ready.broken).add(task.key)
                fut.release()  # nothing needs its result: a lost worker cannot lose it
    finally:
        _set_allowed_failures(client, before) if cluster is None else None
        client.close()
        if cluster is not None:
            cluster.close()


def shadowing_folder(cwd: str | Path | None = None) -> Path | None:
    """A folder named `reprdyn` in `cwd` that a worker started there (`python -m
    distributed.cli.dask_worker`, as dask-jobqueue starts them, puts its working folder first on
    sys.path) would import as a namespace package instead of the installed reprdyn: a checkout's
    root, say, which holds the package one level down. None when there is none."""
    import reprdyn

    here = Path(cwd or os.getcwd()) / "reprdyn"
    installed = Path(reprdyn.__file__).resolve().parent
    if here.is_dir() and here.resolve() != installed and not (here / "__init__.py").exists():
        return here
    return None


def _shadow_hint(why: str) -> str:
    """`why` a task failed outside its code, with the likely cause when a worker could not import
    reprdyn."""
    if "reprdyn" in why and re.search(r"No module named|deserializ|has no attribute", why):
        why += (
            " — the worker could not import reprdyn: most likely its working folder holds a "
            "folder named reprdyn (a checkout's root) that shadows the installed package; start "
            "the workers (the script that makes your SLURMCluster) from another folder"
        )
    return why


def _finished(fut, task: Task, events: _Events, on_start, on_done, on_fail, compute) -> bool:
    """Report one finished future (done, failed with its own error, or lost with its workers);
    whether the task is done."""
    from distributed import KilledWorker

    try:
        result = fut.result()  # a result lost with its worker in the meantime is computed again
    except KilledWorker:  # its worker died more often than compute.retries allows
        why = (
            f"its worker died {compute.retries + 1} time(s) while running it (compute.retries: "
            f"{compute.retries})"
        )
    except Exception as exc:  # noqa: BLE001 - raised outside the task (pickling, a broken worker)
        why = _shadow_hint(describe(exc))
    else:
        if result["status"] == "ok":
            events.start(task, on_start)  # its start event may still be on its way
            if on_done:
                on_done(task)
            return True
        why = result["error"]
    if on_fail:
        on_fail(task, why)
    return False
