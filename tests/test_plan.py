"""Plan: tasks in dependency order with stable content keys."""

from __future__ import annotations

from conftest import SMALL

from reprdyn.plan import plan
from reprdyn.spec import validate_text


def test_plan_layout_and_order():
    tasks = plan(validate_text(SMALL))
    stages = [t.stage for t in tasks]
    assert stages == ["data"] + ["features"] * 5 + ["theory", "probe"]
    seen = set()
    for t in tasks:
        assert set(t.deps) <= seen  # every dependency comes earlier
        seen.add(t.key)
    assert len({t.key for t in tasks}) == len(tasks)


def test_keys_are_stable_and_scoped():
    a = plan(validate_text(SMALL))
    assert [t.key for t in a] == [t.key for t in plan(validate_text("# c\n" + SMALL))]
    b = plan(validate_text(SMALL.replace("seeds: [0, 1]", "seeds: [0, 1, 2]")))
    # a probe setting changes probe keys only; features are reused
    assert [t.key for t in a if t.stage != "probe"] == [t.key for t in b if t.stage != "probe"]
    assert [t.key for t in a if t.stage == "probe"] != [t.key for t in b if t.stage == "probe"]
    c = plan(validate_text(SMALL.replace("delta: 0.3", "delta: 0.25")))
    assert not {t.key for t in a} & {t.key for t in c}


def test_segmentation_plans_one_task_per_sigma_and_no_pooled_work():
    from conftest import SEG_SMALL

    from reprdyn.plan import plan
    from reprdyn.spec import validate_text

    tasks = plan(validate_text(SEG_SMALL))
    stages = [t.stage for t in tasks]
    assert stages == ["train", "data", "segment", "segment"]  # no features, no probe tasks
    assert [t.param("sigma") for t in tasks if t.stage == "segment"] == [0.1, 1.0]
    mixed = validate_text(
        SEG_SMALL.replace("probes:\n", "layers: [mid]\nprobes:\n  - {kind: ridge}\n")
    )
    tasks = plan(mixed)
    probes = [t for t in tasks if t.stage == "probe"]
    # the ridge reads the pooled layer on each input; segmentation probes get no probe task
    assert {t.param("probe") for t in probes} == {"ridge"} and len(probes) == 2
    assert sum(t.stage == "features" for t in tasks) == 2 and "miou" in mixed.metrics
