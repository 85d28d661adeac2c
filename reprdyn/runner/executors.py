"""Executors: run planned tasks. `local` runs them in this process, in plan order.

Every executor calls the same `run_task`. A failed task is reported through
`on_fail` and the tasks that depend on it are skipped; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import stop
from ..errors import describe, lookup
from ..stages import Task, run_task
from ..store import StoreIO
from .context import Context

Callback = Callable[[Task], None]
FailCallback = Callable[[Task, str], None]


def run_local(
    tasks: list[Task],
    ctx: Context,
    on_start: Callback | None = None,
    on_done: Callback | None = None,
    on_fail: FailCallback | None = None,
    address: None = None,
) -> None:
    """Run every task here, in order (the plan is already in dependency order)."""
    broken: set[str] = set()
    io = StoreIO(ctx.path)
    for task in tasks:
        stop.check()  # a SIGTERM stops the run here, between tasks
        if broken & set(task.deps):
            broken.add(task.key)
            if on_fail:
                on_fail(task, "skipped: a task it depends on failed")
            continue
        if on_start:
            on_start(task)
        try:
            run_task(task, ctx, io)
        except Exception as e:  # noqa: BLE001 - reported, and the run goes on
            broken.add(task.key)
            if on_fail:
                on_fail(task, describe(e))
            continue
        if on_done:
            on_done(task)


def run_dask(
    tasks, ctx, on_start=None, on_done=None, on_fail=None, address: str | None = None
) -> None:
    from .cluster import run_dask as run

    run(tasks, ctx, on_start, on_done, on_fail, address)


EXECUTORS = {"local": run_local, "dask": run_dask}


def get_executor(name: str):
    return lookup(EXECUTORS, name, "executor")
