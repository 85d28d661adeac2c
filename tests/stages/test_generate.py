"""Stage `generate`: one task per (dataset, model, replicate) that can sample, none where no
metric of the stage runs, and none for a DAE (it cannot generate)."""

from __future__ import annotations

from helpers import trained_spec

from reprdyn.plan import plan
from reprdyn.spec import validate_text
from reprdyn.stages import Stage

DIFFUSION = "    kind: diffusion\n    network: {kind: mlp, width: 8}\n    precond: {kind: edm}\n"
TRAIN = "    train: {data: m, epochs: 1, replicates: 2}\n"
TWO = (
    "models:\n  diff:\n" + DIFFUSION + TRAIN
    + "  dae:\n" + DIFFUSION.replace("diffusion", "dae") + TRAIN + "    train_sigma: 0.5\n"
)  # fmt: skip


def _generate(text: str) -> list:
    return [t for t in plan(validate_text(text)) if t.stage == Stage.GENERATE]


def test_one_task_per_replicate_of_a_model_that_samples():
    text = trained_spec(grid="sigma: [0.1, 1.0]", rest="metrics: [accuracy, generalization]\n")
    text = text.replace(text[text.index("model:") : text.index("datasets:")], TWO)
    tasks = _generate(text)
    assert [(t.params.model, t.params.replicate) for t in tasks] == [("diff", 0), ("diff", 1)]
    assert len({t.key for t in tasks}) == 2 and all(t.deps for t in tasks)


def test_no_task_where_no_metric_of_the_stage_runs():
    assert _generate(trained_spec(grid="sigma: [0.1, 1.0]")) == []
