"""Spec composition (`extends`), error positions inside base files, and portable paths."""

from __future__ import annotations

import os

import pytest
from helpers import molrg_spec

from reprdyn.spec import SpecError, load, load_spec, spec_hash

BASE = (
    molrg_spec("base", sigma="[0.1, 1.0, 2.0]")
    + """\
probes:
  - {kind: ridge, selection: loo}
ensemble: {strategy: neighbours, k: 2}
compute: {device: cpu, n_workers: 3}
"""
)


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def issues(path, overrides=()):
    with pytest.raises(SpecError) as e:
        load_spec(path, overrides)
    return [str(i) for i in e.value.issues]


def test_mappings_merge_lists_and_scalars_replace(tmp_path):
    write(tmp_path, "common/base.yaml", BASE)
    child = write(
        tmp_path,
        "child.yaml",
        "extends: common/base.yaml\nname: child\nsigma: [0.5]\nensemble: {k: 1}\ncompute: "
        "{n_workers: 4}\n",
    )
    spec = load_spec(child)
    assert spec.name == "child"
    assert spec.sigmas == [0.5]  # a list replaces
    assert (spec.ensemble.strategy, spec.ensemble.k) == ("neighbours", 1)  # mappings merge
    assert (spec.compute.device, spec.compute.n_workers) == ("cpu", 4)
    assert spec.probes[0].selection == "loo"  # untouched keys come from the base


def test_later_bases_win_and_the_spec_wins_over_all(tmp_path):
    write(tmp_path, "a.yaml", BASE)
    write(tmp_path, "b.yaml", "name: from-b\nseed: 7\ncompute: {n_workers: 5}\n")
    child = write(tmp_path, "c.yaml", "extends: [a.yaml, b.yaml]\nseed: 9\n")
    spec = load_spec(child)
    assert (spec.name, spec.seed, spec.compute.n_workers, spec.compute.device) == (
        "from-b",
        9,
        5,
        "cpu",
    )


def test_nested_bases_resolve_against_their_own_folder(tmp_path):
    (tmp_path / ".git").mkdir()  # a repository: its specs may share bases across folders
    write(tmp_path, "lib/core.yaml", BASE)
    write(tmp_path, "lib/mid.yaml", "extends: core.yaml\nname: mid\n")  # relative to lib/
    child = write(tmp_path, "exp/run.yaml", "extends: ../lib/mid.yaml\nseed: 4\n")
    spec, sources = load(child)
    assert (spec.name, spec.seed) == ("mid", 4)
    assert list(sources) == [
        str(child),
        str(child.parent / "../lib/mid.yaml"),
        str(child.parent / "../lib/core.yaml"),
    ]


def test_composition_is_same_spec_and_hash_as_the_flat_file(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n")
    flat = write(tmp_path, "flat.yaml", BASE)
    assert spec_hash(load_spec(child)) == spec_hash(load_spec(flat))


@pytest.mark.parametrize(
    "files, start, chain",
    [
        ({"a.yaml": "extends: a.yaml\n"}, "a.yaml", "a.yaml -> a.yaml"),
        (
            {
                "a.yaml": "extends: b.yaml\n",
                "b.yaml": "extends: [c.yaml]\n",
                "c.yaml": "extends: a.yaml\n",
            },
            "a.yaml",
            "a.yaml -> b.yaml -> c.yaml -> a.yaml",
        ),
    ],
)
def test_cycles_are_errors_naming_the_chain(tmp_path, files, start, chain):
    for name, text in files.items():
        write(tmp_path, name, text)
    (msg,) = issues(tmp_path / start)
    assert "extends cycle" in msg
    assert chain.replace("a.yaml", str(tmp_path / "a.yaml")).split(" -> ")[0] in msg
    assert [
        os.path.basename(p) for p in msg.split("extends cycle: ")[1].split(";")[0].split(" -> ")
    ] == chain.split(" -> ")


def test_error_inside_a_base_names_the_base_file_and_line(tmp_path):
    base = write(
        tmp_path,
        "base.yaml",
        BASE.replace("delta: 0.3", "delta: 1.5").replace(
            "{kind: ridge, selection: loo}", "{kind: ridge, alpha: 3}"
        ),
    )
    child = write(tmp_path, "child.yaml", "# a comment\nextends: base.yaml\nname: child\nseed: x\n")
    found = issues(child)
    assert f"{base}:5:" in next(m for m in found if "delta" in m)
    assert f"{base}:8:" in next(
        m for m in found if "alpha" in m
    ) and "unknown key 'alpha'" in "".join(found)
    assert f"{child}:4:7: seed:" in next(m for m in found if "seed" in m)  # the spec's own line


def test_error_in_a_merged_mapping_names_the_file_that_wrote_the_key(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\ncompute:\n  device: tpu\n")
    (msg,) = issues(child)
    assert msg.startswith(f"{child}:3:11: compute.device: unknown device 'tpu'")


@pytest.mark.parametrize(
    "extends, match",
    [
        ("missing.yaml", "base spec 'missing.yaml' not found"),
        ("[]", "expected a file name, or a list"),
        ("{a: 1}", "expected a file name, or a list"),
    ],
)
def test_bad_extends(tmp_path, extends, match):
    child = write(tmp_path, "child.yaml", f"name: x\nextends: {extends}\n")
    (msg,) = issues(child)
    assert msg.startswith(f"{child}:2:") and match in msg


def test_a_broken_base_gives_its_own_position(tmp_path):
    write(tmp_path, "base.yaml", "name: [unclosed\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n")
    (msg,) = issues(child)
    assert msg.startswith(f"{tmp_path / 'base.yaml'}:") and "YAML syntax error" in msg


def test_overrides_apply_after_composition(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n")
    assert load_spec(child, ["ensemble.k=3"]).ensemble.k == 3
    (msg,) = issues(child, ["ensemble.k=-1"])
    assert msg.startswith("--set ensemble.k=-1:")


def test_relative_store_and_cache_resolve_against_the_spec_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec_file = write(tmp_path, "exp/s.yaml", BASE + "store: out/s.zarr\n")
    spec = load_spec(spec_file, ["compute.cache=ckpt"])
    assert spec.store == str(tmp_path / "exp/out/s.zarr")
    # --set paths are relative to the current folder
    assert spec.compute.cache == str(tmp_path / "ckpt")


def test_paths_written_in_a_base_resolve_against_the_base_folder(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, "lib/base.yaml", BASE + "store: stores/x.zarr\n")
    child = write(tmp_path, "exp/child.yaml", "extends: ../lib/base.yaml\ncompute: {cache: c}\n")
    spec = load_spec(child)
    assert spec.store == str(tmp_path / "lib/stores/x.zarr")
    assert spec.compute.cache == str(tmp_path / "exp/c")


def test_absolute_and_home_paths_are_kept_when_the_runner_gives_them(tmp_path):
    spec = load_spec(write(tmp_path, "s.yaml", BASE), [f"store={tmp_path}/abs.zarr"])
    assert spec.store == f"{tmp_path}/abs.zarr"
    spec = load_spec(write(tmp_path, "h.yaml", BASE), ["compute.cache=~/ckpt"])
    assert spec.compute.cache == os.path.expanduser("~/ckpt")


def test_env_expansion_then_path_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNS", "runs")
    spec = load_spec(
        write(tmp_path, "s.yaml", BASE + "store: ${RUNS}/${NAME:-default}.zarr\n"),
        allow_env=["RUNS", "NAME"],
    )
    assert spec.store == str(tmp_path / "runs/default.zarr")


def test_maybe_paths_resolve_only_when_they_exist(tmp_path):
    from reprdyn.spec.compose import absolute

    (tmp_path / "here").mkdir()
    assert absolute("here", tmp_path, must_exist=True) == str(tmp_path / "here")
    assert absolute("google/ddpm-cifar10-32", tmp_path, must_exist=True) == "google/ddpm-cifar10-32"
    # plainly a path
    assert absolute("./not-yet", tmp_path, must_exist=True) == str(tmp_path / "not-yet")
