"""Plan: tasks in dependency order with stable content keys."""

from __future__ import annotations

from helpers import REPLICATED, SMALL

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
    from helpers import SEG_SMALL

    from reprdyn.plan import plan
    from reprdyn.spec import validate_text

    tasks = plan(validate_text(SEG_SMALL))
    stages = [t.stage for t in tasks]
    assert stages == ["train", "data", "segment", "segment"]  # no features, no probe tasks
    assert [t.params.sigma for t in tasks if t.stage == "segment"] == [0.1, 1.0]
    mixed = validate_text(
        SEG_SMALL.replace("probes:\n", "layers: [mid]\nprobes:\n  - {kind: ridge}\n")
    )
    tasks = plan(mixed)
    probes = [t for t in tasks if t.stage == "probe"]
    # the ridge reads the pooled layer on each input; segmentation probes get no probe task
    assert {t.params.probe for t in probes} == {"ridge"} and len(probes) == 2
    assert sum(t.stage == "features" for t in tasks) == 2 and "miou" in mixed.metrics


def test_replicates_plan_one_checkpoint_and_feature_set_each():
    tasks = plan(validate_text(REPLICATED))
    trains = [t for t in tasks if t.stage == "train"]
    assert [t.params.replicate for t in trains] == [0, 1, 2] and len({t.key for t in trains}) == 3
    feats = [t for t in tasks if t.stage == "features"]
    # the exact posterior has one replicate, the trained model three: (1 + 3) x 2 sigmas
    assert len(feats) == (1 + 3) * 2
    for f in feats:
        if f.params.model == "mlp":  # each replicate's features wait for its own checkpoint
            (ckpt,) = [t for t in trains if t.key in f.deps]
            assert ckpt.params.replicate == f.params.replicate
    probes = [t for t in tasks if t.stage == "probe"]
    pixels = [t for t in probes if t.params.layer == "pixels"]
    # the raw-input baseline: one task per (model, input) serves every replicate, after the data
    assert {(t.params.model, t.params.replicate) for t in pixels} == {
        ("exact", "all"),
        ("mlp", "all"),
    }
    (data,) = [t for t in tasks if t.stage == "data"]
    assert all(t.deps == (data.key,) for t in pixels)
    assert len(probes) == 2 * 2 + (1 + 3) * 2  # pixels per model and input, output per replicate
    (compare,) = [t for t in tasks if t.stage == "compare"]
    assert set(compare.deps) == {t.key for t in probes}


def test_replicate_zero_is_the_one_replicate_model():
    """Adding replicates keeps replicate 0: same checkpoint key, same feature keys."""
    from reprdyn.compute.train import checkpoint_key, replicate_seed

    one = validate_text(REPLICATED.replace("replicates: 3", "replicates: 1"))
    three = validate_text(REPLICATED)
    a, b = plan(one), plan(three)
    train_a = [t.key for t in a if t.stage == "train"]
    assert train_a == [t.key for t in b if t.stage == "train" and t.params.replicate == 0]
    assert checkpoint_key(one.models["mlp"], None, "f", 0) == checkpoint_key(
        three.models["mlp"], None, "f", 0
    )
    assert replicate_seed(5, 0) == 5 and len({replicate_seed(5, r) for r in range(4)}) == 4
