"""Executors: run planned tasks. `local` runs them in this process, in plan order."""
from __future__ import annotations

from typing import Callable

from .plan import Task
from .tasks import Context, run_task

Callback = Callable[[Task], None]


def run_local(tasks: list[Task], ctx: Context, on_start: Callback | None = None,
              on_done: Callback | None = None) -> None:
    """Run every task here, in order (the plan is already in dependency order)."""
    for task in tasks:
        if on_start:
            on_start(task)
        run_task(task, ctx)
        if on_done:
            on_done(task)


EXECUTORS = {"local": run_local}


def get_executor(name: str):
    try:
        return EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown executor {name!r}; expected one of {sorted(EXECUTORS)}") from None
