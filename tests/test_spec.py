"""Spec loading: YAML 1.2 numbers, positioned errors, suggestions, grid validation, identity."""

from __future__ import annotations

import json

import pytest

from reprdyn.spec import SpecError, canonical, load_spec, spec_hash, validate_text

BASE = """\
spec_version: 1
name: t
model: {kind: molrg-optimal}
datasets:
  - {kind: molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 30, n_test: 20}
sigma: [0.5, 1e-3, 2]
"""


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as e:
        validate_text(text, "s.yaml")
    return [str(i) for i in e.value.issues]


def test_yaml12_exponent_is_float_and_grid_sorted():
    spec = validate_text(BASE)
    assert spec.sigmas == [0.001, 0.5, 2.0]
    assert isinstance(spec.sigmas[0], float)


def test_sigma_range_log_and_linear():
    spec = validate_text(
        BASE.replace("sigma: [0.5, 1e-3, 2]", "sigma: {start: 0.01, stop: 10, num: 4}")
    )
    assert spec.sigmas == pytest.approx([0.01, 0.1, 1.0, 10.0])
    spec = validate_text(
        BASE.replace("sigma: [0.5, 1e-3, 2]", "sigma: {start: 0, stop: 1, num: 3, scale: linear}")
    )
    assert spec.sigmas == [0.0, 0.5, 1.0]


def test_unknown_key_has_line_and_suggestion():
    out = errors(BASE + "layerz: [output]\n")
    assert out == [out[0]]
    assert out[0].startswith("s.yaml:7:1: layerz: unknown key 'layerz'; did you mean 'layers'?")


def test_nested_unknown_key_position():
    out = errors(BASE.replace("n_train: 30", "n_trian: 30"))
    assert any(
        o.startswith("s.yaml:5:") and "datasets[0].n_trian" in o and "did you mean 'n_train'" in o
        for o in out
    )
    assert any("missing required key 'n_train'" in o for o in out)


def test_wrong_type():
    out = errors(BASE.replace("K: 3", "K: three"))
    assert len(out) == 1 and out[0].startswith("s.yaml:5:") and "datasets[0].K" in out[0]
    assert "valid integer" in out[0]


def test_negative_nan_inf_sigma():
    out = errors(BASE.replace("[0.5, 1e-3, 2]", "[0.5, -1e-3, .nan, .inf]"))
    assert len(out) == 3
    assert out[0].startswith("s.yaml:6:14: sigma[1]:") and "greater than or equal to 0" in out[0]
    assert all("sigma[" in o for o in out)


def test_empty_grid_and_duplicates():
    assert "the sigma grid is empty" in errors(BASE.replace("[0.5, 1e-3, 2]", "[]"))[0]
    assert "duplicate sigma 0.5" in errors(BASE.replace("[0.5, 1e-3, 2]", "[0.5, 0.5]"))[0]
    assert (
        "log-scaled grid needs start > 0"
        in errors(BASE.replace("[0.5, 1e-3, 2]", "{start: 0, stop: 1, num: 3}"))[0]
    )


def test_all_errors_reported_at_once():
    out = errors(
        BASE.replace("K: 3", "K: 1").replace("delta: 0.3", "delta: 2")
        + "label_noise: [1.0]\nfoo: 1\n"
    )
    assert len(out) == 4


def test_yaml_syntax_errors():
    out = errors("spec_version: 1\nname: [unclosed\n")
    assert out[0].startswith("s.yaml:") and "YAML syntax error" in out[0]
    out = errors("spec_version: 1\n\tname: x\n")
    assert "s.yaml:2:1:" in out[0] and "tab" in out[0]
    out = errors("a: 1\na: 2\n")
    assert "YAML syntax error" in out[0] and "duplicate" in out[0]


def test_empty_binary_and_non_mapping(tmp_path):
    assert "the file is empty" in errors("")[0]
    assert "must be a mapping" in errors("- 1\n- 2\n")[0]
    bin_file = tmp_path / "b.yaml"
    bin_file.write_bytes(b"\x00\x01\xff\xfe")
    with pytest.raises(SpecError, match="binary"):
        load_spec(bin_file)
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "missing.yaml")


def test_unknown_kind_lists_valid_ones():
    out = errors(BASE.replace("kind: molrg-optimal", "kind: molrg-optimum"))
    assert out[0].startswith("s.yaml:3:") and "'molrg-optimal'" in out[0]


def test_unknown_layer_for_static_model():
    out = errors(BASE + "layers: [outptu]\n")
    assert "unknown layer 'outptu'" in out[0] and "did you mean 'output'" in out[0]
    assert "duplicate layer" in errors(BASE + "layers: [output, output]\n")[0]


def test_cross_field_checks():
    assert "K*d = 21 must be at most n = 12" in errors(BASE.replace("d: 2", "d: 7"))[0]
    two = BASE.replace(
        "datasets:\n",
        "datasets:\n  - {kind: molrg, name: m, n: 4, K: 2, d: 2, delta: 0.3, n_train: 30, n_test: "
        "20}\n",
    )
    assert "duplicate dataset name 'm'" in errors(two)[0]


def test_hash_ignores_formatting_and_store():
    a = validate_text(BASE)
    b = validate_text(
        "# a comment\n" + BASE.replace("[0.5, 1e-3, 2]", "[2, 0.001, 0.5]") + "store: elsewhere\n"
    )
    assert spec_hash(a) == spec_hash(b)
    c = validate_text(BASE.replace("delta: 0.3", "delta: 0.31"))
    assert spec_hash(a) != spec_hash(c)
    assert json.loads(json.dumps(canonical(a)))["sigma"] == [0.001, 0.5, 2.0]


def test_shipped_specs_validate():
    from pathlib import Path

    for path in sorted((Path(__file__).parents[1] / "specs").glob("*.yaml")):
        load_spec(path)


TRAINED = """spec_version: 1
name: t
model:
  kind: diffusion
  network: {kind: mlp, width: 16}
  precond: {kind: vp}
  train: {data: m, epochs: 1}
datasets:
  - {kind: molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 30, n_test: 20}
timesteps: [1, 10, 100]
layers: [fc2, outptu]
"""


def test_unknown_network_layer_is_positioned_with_suggestion():
    out = errors(TRAINED)
    assert len(out) == 1 and out[0].startswith("s.yaml:11:15: layers[1]: unknown layer 'outptu'")
    assert "did you mean 'output'?" in out[0] and "fc1" in out[0]


def test_timestep_grid_converts_to_sigma():
    from reprdyn.schedules import VPSchedule

    spec = validate_text(TRAINED.replace(", outptu", ""))
    assert spec.sigmas == pytest.approx(VPSchedule().sigmas[[1, 10, 100]].tolist())
    assert spec.timestep_coord == [1.0, 10.0, 100.0]
    assert "needs a model with a vp precond" in errors(TRAINED.replace("kind: vp", "kind: edm"))[0]
    assert "outside the schedule's range" in errors(TRAINED.replace("[1, 10, 100]", "[1, 1000]"))[0]
    assert "exactly one of `sigma`" in errors(TRAINED.replace(", outptu", "") + "sigma: [1]\n")[0]


def test_train_data_must_exist_and_match_shape():
    assert (
        "names dataset 'x', which is not in `datasets`"
        in errors(TRAINED.replace("data: m", "data: x"))[0]
    )
    two = TRAINED.replace("datasets:\n", "datasets:\n  - {kind: digits, name: dg}\n")
    assert "datasets ['dg'] do not have the training data's shape (12,)" in errors(two)[0]


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


def test_env_expansion_in_path_fields(monkeypatch):
    monkeypatch.setenv("RD_STORE", "/tmp/from-env.zarr")
    spec = validate_text(BASE + "store: ${RD_STORE}\ncompute: {cache: '${RD_CACHE:-/tmp/cache}'}\n")
    assert spec.store == "/tmp/from-env.zarr" and spec.compute.cache == "/tmp/cache"
    out = errors(BASE + "store: ${RD_UNSET_VAR}\n")
    assert "store: environment variable RD_UNSET_VAR is not set" in out[0]


def test_env_is_never_copied_into_other_values(monkeypatch):
    """A shared spec that names ${SECRET} in a probe name, a dataset name or a free string is
    refused at that value; the secret never reaches the spec, its hash or a store."""
    monkeypatch.setenv("RD_SECRET_TOKEN", "hunter2")
    for text in (
        BASE.replace("name: t", "name: ${RD_SECRET_TOKEN}"),
        BASE + "probes: [{kind: ridge, name: 'p${RD_SECRET_TOKEN:-none}'}]\n",
    ):
        out = errors(text)
        assert out and "expanded only in path fields" in out[0] and "hunter2" not in "".join(out)


def test_set_overrides_are_typed_validated_and_hashed():
    base = validate_text(BASE)
    spec = validate_text(
        BASE, "s.yaml", ["datasets[0].n_train=40", "label_noise=[0, 0.4]", "compute.device=cpu"]
    )
    assert (
        spec.datasets[0].n_train == 40
        and spec.label_noise == [0.0, 0.4]
        and spec.compute.device == "cpu"
    )
    assert spec_hash(spec) != spec_hash(base)
    with pytest.raises(SpecError) as e:
        validate_text(BASE, "s.yaml", ["label_noise=[0, 1.5]"])
    assert str(e.value.issues[0]).startswith(
        "--set label_noise=[0, 1.5]:1:1: label_noise[1]: Input should be less"
    )
    with pytest.raises(SpecError, match="expected PATH=VALUE"):
        validate_text(BASE, "s.yaml", ["label_noise"])
    with pytest.raises(SpecError, match=r"has no item \[3\]"):
        validate_text(BASE, "s.yaml", ["datasets[3].n=4"])
    with pytest.raises(SpecError, match="unknown key 'widht'"):
        validate_text(BASE, "s.yaml", ["compute.widht=3"])


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
    from conftest import SEG_SMALL

    text = SEG_SMALL.replace(*change)
    assert text != SEG_SMALL
    out = errors(text)
    assert any(match in line for line in out), out


def test_unknown_dense_layer_is_a_positioned_error():
    from conftest import SEG_SMALL

    from reprdyn.spec import SpecError

    with pytest.raises(SpecError) as e:
        validate_text(SEG_SMALL.replace("last: [dec.1]", "last: [dec.7]"), "s.yaml")
    (issue,) = e.value.issues
    assert issue.path == "dense.last[0]" and issue.line == 14
    assert "unknown layer 'dec.7'" in issue.message and "dec.1" in issue.message
