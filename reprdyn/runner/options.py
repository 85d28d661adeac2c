"""How a run goes, as one frozen object (the runner takes it instead of a dozen keywords), what a
caller hears of it, and the error a run with failed tasks ends in. Light: the command line builds
these without loading the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hooks:
    """What a caller hears of a run; every hook is optional."""

    start: Callable | None = None  # (task): a task begins
    done: Callable | None = None  # (task): a task's results are in the store
    plan: Callable | None = None  # (tasks): the tasks about to run (per sweep point)
    train_step: Callable | None = None  # (label, step, total, loss)
    wait: Callable | None = None  # (what): another run holds the store, and we wait for it


@dataclass(frozen=True)
class RunOptions:
    """How one `reprdyn.run` goes.

    `spec_text` is the spec as written, kept verbatim in the store (without it the canonical form
    is kept), and `spec_bases` the text of each file it `extends`, keyed by path. `force` re-runs
    finished tasks. The store is locked for the run: `wait` queues behind another run instead of
    refusing. `dask` is a scheduler's address (default `$REPRDYN_DASK_ADDRESS`; a spec never names
    one). A run whose estimate needs more memory than this machine has, or more disk than the
    store's file system has free, is refused unless `ignore_machine_limits`.
    """

    spec_text: str | None = None
    spec_bases: dict[str, str] | None = None
    force: bool = False
    wait: bool = False
    dask: str | None = None
    ignore_machine_limits: bool = False
    hooks: Hooks = field(default_factory=Hooks)


class TasksFailed(Exception):
    """Some tasks failed; the others ran and are in the store."""

    def __init__(self, failures: list[dict], summary: list):
        self.failures, self.summary = failures, summary
        super().__init__(
            f"{len(failures)} task(s) failed: "
            + "; ".join(f"{f['task']}: {f['error']}" for f in failures[:3])
        )
