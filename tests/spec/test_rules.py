"""The cross-field rules, each positioned at the field it is about."""

from __future__ import annotations

import pytest
from helpers import BASE, errors, trained_spec

from reprdyn.spec import validate_text


def test_cross_field_checks():
    assert "K*d = 21 must be at most n = 12" in errors(BASE.replace("d: 2", "d: 7"))[0]
    two = BASE.replace(
        "datasets:\n",
        "datasets:\n  - {kind: molrg, name: m, n: 4, K: 2, d: 2, delta: 0.3, n_train: 30, n_test: "
        "20}\n",
    )
    assert "duplicate dataset name 'm'" in errors(two)[0]
    probes = BASE + "probes: [{kind: logistic}, {kind: logistic}]\n"
    assert "two probes are both called 'logistic'; give one a `name`" in errors(probes)[0]


TRAINED = trained_spec(rest="layers: [fc2, outptu]\n")


def test_models_mapping_and_exactly_one_model():
    assert "exactly one of `model`" in errors(BASE.replace("model: {kind: molrg-optimal}", ""))[0]
    spec = validate_text(
        BASE.replace("model: {kind: molrg-optimal}", "models: {a: {kind: molrg-optimal}}")
    )
    assert spec.multi_model and [n for n, _ in spec.model_items()] == ["a"]


def test_true_csnr_basis_needs_molrg():
    digits = TRAINED.replace(
        "  - {kind: molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 30, n_test: 20}",
        "  - {kind: digits, name: m}",
    ).replace("mlp, width: 16", "unet, channels: 8")
    digits = digits.replace("layers: [fc2, outptu]", "layers: [mid]") + "csnr: {basis: truth}\n"
    assert "basis 'truth' needs molrg datasets" in errors(digits)[0]


def test_duplicate_seeds_and_probe_layers():
    assert "duplicate entry 0" in errors(BASE + "seeds: [0, 1, 0]\n")[0]
    out = errors(BASE + "probes: [{kind: ridge, layers: [fc9]}]\n")
    assert "probe 'ridge' reads layers ['fc9'] that are not in `layers`" in out[0]


@pytest.mark.parametrize(
    "change, match",
    [
        (
            ("dense:\n  both: [dec.0, dec.1]\n  last: [dec.1]\n", ""),
            "it reads per-pixel features; name layer sets under `dense:`",
        ),
        (
            ("{kind: seg-linear, lambdas: [0.001, 0.1, 10]}", "{kind: seg-linear, layers: [nope]}"),
            "reads ['nope']; it reads the dense sets ['both', 'last']",
        ),
        (
            (
                '{kind: glyphs, name: glyphs, chars: "01", n_train: 40, n_test: 20}',
                "{kind: digits, name: glyphs}",
            ),
            "miou needs per-pixel masks; datasets ['glyphs'] have none",
        ),
        (
            ("probes:\n", "metrics: [accuracy, miou]\nprobes:\n"),
            "accuracy needs a classification probe",
        ),
        (("  last: [dec.1]\n", "  last: []\n"), "dense set 'last' needs distinct layers"),
        (
            ("probes:\n", "metrics: [csnr]\nprobes:\n"),
            "segmentation probes ['seg-linear', 'seg-mlp'] report miou; add `miou`",
        ),
    ],
)
def test_segmentation_spec_errors(change, match):
    from helpers import SEG_SMALL

    text = SEG_SMALL.replace(*change)
    assert text != SEG_SMALL
    out = errors(text)
    assert any(match in line for line in out), out
