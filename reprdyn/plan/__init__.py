"""Plan stage: compile a validated Spec into a list of Tasks (a pure function).

The plan is a fold over the stages in order (`reprdyn.stages.ORDER`): each stage's `plan(spec,
upstream)` sees the tasks planned before it and returns its own, each with its dependencies. A
task's content key hashes everything its result depends on, so equal keys mean equal results.
"""

from __future__ import annotations

from ..spec import Spec
from ..stages import ORDER, Stage, Task

__all__ = ["Task", "Stage", "Upstream", "plan"]


class Upstream:
    """The tasks planned so far, for the stages that depend on them."""

    def __init__(self):
        self.tasks: list[Task] = []

    def of(self, stage: Stage, dataset: str | None = None, **params) -> list[Task]:
        """The tasks of `stage` (of one dataset, with these params), in plan order."""
        return [
            t
            for t in self.tasks
            if t.stage == stage
            and (dataset is None or t.dataset == dataset)
            and all(getattr(t.params, k, None) == v for k, v in params.items())
        ]


def plan(spec: Spec) -> list[Task]:
    """Every task of a spec, in dependency order."""
    upstream = Upstream()
    for stage in ORDER:
        upstream.tasks += stage.plan(spec, upstream)
    return upstream.tasks
