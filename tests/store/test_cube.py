"""The cube schema: every variable a spec asks for is allocated with its declared dims and
task-aligned chunks."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SMALL

from reprdyn import metrics  # noqa: E402
from reprdyn.metrics.base import Stage  # noqa: E402
from reprdyn.spec import validate_text
from reprdyn.store import cube

# every metric but segmentation's (it needs masks: its own test)
EVERYTHING = SMALL + "metrics: [{}]\n".format(
    ", ".join(m.name for m in metrics.registry().values() if m.stage != Stage.SEGMENT)
)
TWO_MODELS = EVERYTHING.replace(
    "model: {kind: molrg-optimal}", "models: {a: {kind: molrg-optimal}, b: {kind: molrg-optimal}}"
)


@pytest.mark.parametrize("text", [EVERYTHING, TWO_MODELS], ids=["one model", "two models"])
def test_template_holds_every_declared_variable_with_its_dims(text):
    spec = validate_text(text)
    ds = cube.template(spec, ["0", "1", "2"])
    # every metric asked for: every variable that applies, in order (segmentation needs masks: its
    # own test; the comparisons need two inputs, pixels or a DAE; the joint stage a joint probe)
    # (and comparisons between models need several)
    skip = ("segment", "compare", "joint")
    expected = [
        n
        for n, v in cube.VARIABLES.items()
        if v.stage not in skip and (n != "cknna_models" or spec.multi_model)
    ]
    assert list(ds.data_vars) == expected
    for name, var in ((n, cube.VARIABLES[n]) for n in expected):
        empty = ~ds[name] if var.dtype == "bool" else ds[name].isnull()  # False / NaN: unwritten
        assert ds[name].dims == var.dims_in(spec) and empty.all()
        assert ds[name].attrs["description"] == var.description
    lead = ("model",) * spec.multi_model + ("replicate",)
    assert ds["accuracy"].dims[: len(lead)] == lead and ds["csnr_theory"].dims == ("sigma",)
    assert ds["accuracy_ci"].dims == (*ds["accuracy"].dims, "bound")
    assert list(ds["bound"].values) == ["low", "high"] and ds.sizes["boot"] == 1000
    assert ds.sizes["member"] == spec.ensemble.size(len(spec.sigmas)) and list(
        ds["class"].values
    ) == ["0", "1", "2"]


def test_only_what_the_metrics_ask_for():
    spec = validate_text(SMALL + "metrics: [accuracy]\nanalysis: {bootstrap: 0}\n")
    assert set(cube.wanted(spec)) == {
        "accuracy",
        "val_accuracy",
        "best_sigma",
        "best_accuracy",
        "ensemble_accuracy",
        "ensemble_gain",
        "ensemble_members",
    }
    spec = validate_text(SMALL + "metrics: [accuracy]\n")  # with the bootstrap, by default
    extra = set(cube.wanted(spec)) - set(
        cube.wanted(validate_text(SMALL + "metrics: [accuracy]\nanalysis: {bootstrap: 0}\n"))
    )
    assert extra == {
        f"{v}_{k}"
        for v in ("accuracy", "best_accuracy", "ensemble_accuracy", "ensemble_gain")
        for k in ("boot", "ci")
    } | {"sigma_star_freq"}


def test_comparisons_apply_where_both_sides_are_computed():
    both = validate_text(SMALL.replace("probes:", "inputs: [clean, noisy]\nprobes:"))
    assert "clean_minus_noisy" in cube.wanted(both) and "clean_minus_noisy_ci" in cube.wanted(both)
    assert cube.template(both, ["0", "1", "2"])["clean_minus_noisy"].dims == (
        "replicate",
        "layer",
        "label_noise",
        "seed",
        "probe",
    )
    pixels = validate_text(SMALL.replace("probes:", "layers: [output, pixels]\nprobes:"))
    assert "features_minus_pixels" in cube.wanted(pixels)
    assert not {"clean_minus_noisy", "features_minus_pixels", "diffusion_minus_dae"} & set(
        cube.wanted(validate_text(SMALL))
    )


def test_chunks_follow_the_writing_task():
    spec = validate_text(TWO_MODELS)
    chunks = cube.chunks(spec)
    one = {"model": 1, "replicate": 1}
    assert chunks["accuracy"] == {**one, "layer": 1, "probe": 1, "input": 1}  # one probe task
    assert chunks["accuracy_boot"] == chunks["accuracy"]
    assert chunks["csnr"] == chunks["posterior_mse"] == {**one, "sigma": 1}  # one feature task
    assert chunks["cka"] == {**one, "layer": 1, "input": 1} and chunks["generalization"] == one


def test_labelled_region_and_feature_chunks():
    spec = validate_text(SMALL)
    region = cube.labelled(
        spec,
        {"best_sigma": np.zeros((1, 1, 2, 2, 1, 1))},
        replicate=[0],
        layer=["output"],
        label_noise=[0, 0.4],
        seed=[0, 1],
        probe=["logistic"],
        input=["clean"],
    )
    assert region["best_sigma"].dims == ("replicate", *cube.PROBE_DIMS)
    assert cube.sample_chunk(100_000, 256, 64) % 64 == 0 and cube.sample_chunk(50, 256, 64) == 50
    assert cube.sample_chunk(100_000, 256, 64) * 256 * 4 <= cube.CHUNK_BYTES


def test_segmentation_variables_have_dense_sets_and_mask_classes():
    from helpers import SEG_SMALL

    spec = validate_text(SEG_SMALL)
    ds = cube.template(spec, ["0", "1"], ["background", "0", "1"])
    assert set(cube.wanted(spec)) == {"miou", "val_miou", "class_iou", "miou_boot", "miou_ci"}
    assert list(ds["layer"].values) == ["both", "last"]  # no pooled layer is read
    dims = "replicate sigma layer label_noise seed probe input segment_class"
    assert ds["class_iou"].dims == tuple(dims.split())
    assert list(ds["segment_class"].values) == ["background", "0", "1"]
    # one segment task per (replicate, sigma)
    assert cube.chunks(spec)["miou"] == {"model": 1, "replicate": 1, "sigma": 1}
