"""The model blocks: training length, a DAE's noise levels inside its schedule, one fixed prompt,
one source for a Python model, and every kind reachable through the `model` union."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from reprdyn.spec.kinds import PRETRAINED, TRAINABLE
from reprdyn.spec.modelcfg import DAE, Model, PythonModel, Train, one_prompt

MODEL = TypeAdapter(Model)
NET = {"kind": "mlp", "width": 8}


def test_training_has_exactly_one_length():
    assert Train(data="m", epochs=2).steps is None
    for length in ({}, {"epochs": 2, "steps": 10}):
        with pytest.raises(ValidationError, match="give exactly one of `epochs` or `steps`"):
            Train(data="m", **length)


def test_a_dae_on_a_vp_schedule_trains_inside_its_range():
    vp = {"kind": "vp"}  # linear betas 1e-4 .. 0.02 over 1000 steps: sigma in [0.01, 157.4]
    ok = DAE(kind="dae", network=NET, precond=vp, train={"data": "m", "epochs": 1}, train_sigma=1)
    assert ok.train_sigma == 1
    with pytest.raises(ValidationError, match=r"outside the vp schedule's range \[0.01, 157.4\]"):
        DAE(kind="dae", network=NET, precond=vp, train={"data": "m", "epochs": 1}, train_sigma=500)


def test_a_prompt_is_one_text_never_a_template():
    assert one_prompt("a photo") == "a photo"
    with pytest.raises(ValueError, match="would put each image's label into its features"):
        one_prompt("a photo of a {label}")


def test_a_python_model_has_one_source():
    assert PythonModel(kind="python", factory="make", file="net.py").module is None
    for source in ({}, {"file": "net.py", "module": "pkg.net"}):
        with pytest.raises(ValidationError, match="give exactly one of `module`"):
            PythonModel(kind="python", factory="make", **source)


@pytest.mark.parametrize("kind", ["molrg-optimal", *TRAINABLE, *PRETRAINED])
def test_every_kind_is_a_member_of_the_model_union(kind):
    tags = MODEL.json_schema()["discriminator"]["mapping"]
    assert kind in tags
