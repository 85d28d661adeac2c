"""The loader: the texts of every file read, overrides blamed on `--set`, a sweep value reported
at itself, the pure stage apart from the checks that read files, and `locate`."""

from __future__ import annotations

import pytest
from helpers import BASE, molrg_spec, trained_spec

from reprdyn.spec import SpecError
from reprdyn.spec.loader import load, load_spec, locate, validate_text


def _issues(fn, *args, **kwargs) -> list[str]:
    with pytest.raises(SpecError) as e:
        fn(*args, **kwargs)
    return [str(i) for i in e.value.issues]


def test_load_returns_the_spec_and_every_text_it_read(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\n")
    spec, texts = load(child)
    assert spec.name == "child" and list(texts) == [str(child), str(tmp_path / "base.yaml")]
    assert texts[str(tmp_path / "base.yaml")] == BASE


def test_an_override_is_applied_and_blamed_for_its_problems(tmp_path):
    (tmp_path / "s.yaml").write_text(BASE)
    assert load_spec(tmp_path / "s.yaml", ["seed=7"]).seed == 7
    (issue,) = _issues(load_spec, tmp_path / "s.yaml", ["seed=abc"])
    assert issue.startswith("--set seed=abc:1:1: seed: Input should be a valid integer")


def test_a_bad_sweep_value_is_reported_at_the_value():
    text = molrg_spec(rest="sweep:\n  datasets[0].d: [2, 5]\n")  # K*d = 15 > n = 12
    (issue,) = _issues(validate_text, text, "s.yaml")
    assert issue.startswith("s.yaml:8:") and "with datasets[0].d = 5: " in issue


def test_checks_false_stops_before_the_networks_a_spec_builds():
    text = trained_spec(rest="layers: [fc2, outptu]\n")  # a layer only the built network knows
    assert validate_text(text, "s.yaml", checks=False).layers == ["fc2", "outptu"]
    assert any("unknown layer 'outptu'" in i for i in _issues(validate_text, text, "s.yaml"))


def test_locate_positions_a_message_at_a_named_dataset(tmp_path):
    (tmp_path / "s.yaml").write_text(BASE)
    issue = locate(tmp_path / "s.yaml", ("datasets", "m", "delta"), "too noisy")
    assert (issue.line, issue.message) == (5, "too noisy")
