"""A store's ledger of work: the plan of its tasks, the manifest of the finished ones (each line
appended only after the task's results are written) and the failures of the latest run."""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from ..errors import StoreError
from .layout import point_label, read_attrs, require_attrs, sweep_points

MANIFEST = "manifest.jsonl"  # one line per finished task, appended after its region is written
FAILURES = "failed.jsonl"  # one line per failed task of the latest run
PLAN = "plan.json"  # the task list of the spec this store belongs to


def write_plan(path: str | Path, tasks) -> None:
    rows = [t.row() for t in tasks]
    tmp = Path(path) / (PLAN + ".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(Path(path) / PLAN)  # atomic


def record_failures(path: str | Path, failures: list[dict]) -> None:
    tmp = Path(path) / (FAILURES + ".tmp")
    tmp.write_text("".join(json.dumps(f) + "\n" for f in failures))
    tmp.replace(Path(path) / FAILURES)


def task_status(path: str | Path) -> list[dict]:
    """Every planned task with status done, failed (with its error) or pending; for a sweep store,
    every point's tasks, labelled with the point (a point not started yet shows one pending row)."""
    path = Path(path)
    attrs = require_attrs(path)
    if "sweep" in attrs:
        out = []
        for values, sub in sweep_points(attrs, path):
            label = point_label(values)
            if read_attrs(sub) is None or not (sub / PLAN).exists():
                out.append(
                    {
                        "key": label,
                        "task": f"[{label}] (not started)",
                        "stage": "point",
                        "deps": [],
                        "status": "pending",
                        "error": None,
                    }
                )
                continue
            out += [{**r, "task": f"[{label}] {r['task']}"} for r in task_status(sub)]
        return out
    if not (path / PLAN).exists():
        raise StoreError(f"{path}: this store has no task plan (written by an older reprdyn?)")
    done = done_keys(path)
    failed = {}
    try:
        if (path / FAILURES).exists():
            for line in (path / FAILURES).read_text().splitlines():
                f = json.loads(line)
                failed[f["key"]] = f["error"]
        rows = json.loads((path / PLAN).read_text())
        redo: set[str] = set()  # not done, or downstream of a task that is not
        for row in rows:
            if row["key"] not in done or redo & set(row["deps"]):
                redo.add(row["key"])
    except (ValueError, KeyError, TypeError) as e:
        raise StoreError(f"{path}: the task plan or the failure list is damaged ({e})") from None
    out = []
    for row in rows:
        status = "failed" if row["key"] in failed else "pending" if row["key"] in redo else "done"
        out.append({**row, "status": status, "error": failed.get(row["key"])})
    return out


def manifest(path: str | Path) -> tuple[list[dict], list[int]]:
    """(the finished tasks' lines, the line numbers that cannot be read) of a store's manifest.

    A last line without its newline is a write an interrupted run never finished: that task is
    simply redone, and the line does not count as unreadable.
    """
    f = Path(path) / MANIFEST
    if not f.exists():
        return [], []
    try:
        text = f.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise StoreError(f"{f}: cannot read the manifest ({e})") from None
    lines = text.split("\n")
    torn = lines.pop()  # '' after a final newline; else the half-written last line
    rows, bad = [], []
    for i, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("key"), str):
                raise ValueError("no key")
            rows.append(row)
        except ValueError:
            bad.append(i)
    del torn
    return rows, bad


def done_keys(path: str | Path) -> set[str]:
    """Content keys of the tasks whose results the store holds. A manifest line that cannot be
    read (other than a torn last line) is an error naming the line: which tasks finished is then
    unknown, and guessing could lose results or keep wrong ones."""
    rows, bad = manifest(path)
    if bad:
        raise StoreError(
            f"{Path(path) / MANIFEST}:{bad[0]}: this manifest line cannot be read"
            + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
            + "; `reprdyn verify STORE --repair` keeps the tasks whose results are in the store "
            "and lets the next run redo the rest"
        )
    return {r["key"] for r in rows}


def mark_done(path: str | Path, key: str, label: str) -> None:
    """Record a finished task; called only after its region is fully written. A torn last line
    left by a killed run is cut off first, so lines never run together."""
    line = json.dumps(
        {"key": key, "task": label, "at": _dt.datetime.now(_dt.timezone.utc).isoformat()}
    )
    f = Path(path) / MANIFEST
    with open(f, "a+b") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        if end:
            fh.seek(end - 1)
            if fh.read(1) != b"\n":  # a torn line: keep everything up to its start
                fh.seek(0)
                data = fh.read()
                fh.truncate(data.rfind(b"\n") + 1)
        fh.seek(0, os.SEEK_END)
        fh.write((line + "\n").encode())


def write_manifest(path: str | Path, rows: list[dict]) -> None:
    """Replace the manifest with these lines, atomically (a repair)."""
    tmp = Path(path) / (MANIFEST + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(Path(path) / MANIFEST)


def pending(tasks, done: set[str]) -> list:
    """The tasks to run: those not done, and every task downstream of one (tasks come in
    dependency order), so redoing a task always redoes what was computed from it."""
    todo: set[str] = set()
    for t in tasks:
        if t.key not in done or todo & set(t.deps):
            todo.add(t.key)
    return [t for t in tasks if t.key in todo]


class Ledger:
    """One run's bookkeeping in a store: the plan it writes, the tasks left to do, each finished
    task appended to the manifest, the failures recorded at the end."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.failures: list[dict] = []

    def begin(self, tasks: list) -> list:
        """Record the plan; return the tasks left to run (not done, or downstream of one)."""
        write_plan(self.path, tasks)
        return pending(tasks, done_keys(self.path))

    def done(self, task) -> None:
        mark_done(self.path, task.key, task.label)

    def failed(self, task, error: str) -> None:
        self.failures.append(
            {"key": task.key, "task": task.label, "stage": str(task.stage), "error": error}
        )

    def end(self) -> None:
        record_failures(self.path, self.failures)

    @property
    def data_failed(self) -> bool:
        """Whether a data task failed (then there is no cube to summarise)."""
        return any(f["stage"] == "data" for f in self.failures)
