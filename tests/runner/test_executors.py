"""The local executor: plan order, a failed task reported and its dependants skipped while the
others go on, a stop between tasks; and the executor table's error."""

from __future__ import annotations

import pytest

from reprdyn import stop
from reprdyn.runner import executors
from reprdyn.runner.executors import get_executor, run_local
from reprdyn.stages import Stage, Task


class _Ctx:
    path = "unused.zarr"


def _tasks():
    a = Task(Stage.DATA, "d", key="a")
    b = Task(Stage.FEATURES, "d", key="b", deps=("a",))
    c = Task(Stage.PROBE, "d", key="c", deps=("b",))  # depends on b, which depends on a
    e = Task(Stage.DATA, "e", key="e")  # independent
    return [a, b, c, e]


def test_a_failure_skips_its_dependants_and_the_rest_goes_on(monkeypatch):
    ran = []

    def run_task(task, ctx, io):
        ran.append(task.key)
        if task.key == "a":
            raise RuntimeError("no data")

    monkeypatch.setattr(executors, "run_task", run_task)
    started, done, failed = [], [], []
    run_local(
        _tasks(), _Ctx(), started.append, done.append, lambda t, why: failed.append((t.key, why))
    )
    assert ran == ["a", "e"] and [t.key for t in done] == ["e"]
    assert [t.key for t in started] == ["a", "e"]
    assert failed[0][0] == "a" and "no data" in failed[0][1]
    assert failed[1:] == [(k, "skipped: a task it depends on failed") for k in ("b", "c")]


def test_a_stop_request_ends_the_run_between_tasks(monkeypatch):
    ran = []
    monkeypatch.setattr(executors, "run_task", lambda task, ctx, io: ran.append(task.key))

    def check():
        if len(ran) == 2:
            raise stop.Stopped("SIGTERM")

    monkeypatch.setattr(stop, "check", check)
    with pytest.raises(stop.Stopped):
        run_local(_tasks(), _Ctx())
    assert ran == ["a", "b"]


def test_an_unknown_executor_lists_the_known_ones():
    assert get_executor("local") is run_local
    with pytest.raises(ValueError, match="unknown executor 'slurm'; expected one of"):
        get_executor("slurm")
