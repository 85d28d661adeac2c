"""A shared spec is untrusted input: each attack of the threat model (README, "Sharing specs
safely"), tried the way an attacker would, through `reprdyn validate` and `reprdyn run`. Each
must exit 2 with a position, quote nothing it had no business reading, and write nothing."""

from __future__ import annotations

import os
import time

import pytest
from helpers import BASE, invoke

from reprdyn.spec import load_spec
from reprdyn.spec.tree import inside, tree_of

SECRET = "hunter2-do-not-leak"
MOLRG = "  - {kind: molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 30, n_test: 20}\n"


def npz(path: str) -> str:
    """BASE on one npz dataset at `path` (as YAML text)."""
    return BASE.replace(MOLRG, f"  - {{kind: npz, name: d, path: {path}}}\n")


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def box(tmp_path):
    """A collaborator's spec folder `shared/`, and beside it a secret it must never read."""
    write(tmp_path, "secret.yaml", f"api_key: {SECRET}\n")
    write(tmp_path, "secret.txt", f"{SECRET}\n")
    return tmp_path / "shared"


def refused(*args, fragment: str, store=None):
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert fragment in r.stderr, r.stderr
    assert SECRET not in r.output and SECRET not in r.stderr
    if store is not None:
        assert not store.exists()
    return r.stderr


def test_the_tree_is_the_repository_or_else_the_folder(tmp_path):
    spec = write(tmp_path, "repo/specs/sub/x.yaml", BASE)
    assert tree_of(spec) == spec.parent.resolve()
    (tmp_path / "repo/.git").mkdir()
    assert tree_of(spec) == (tmp_path / "repo").resolve()
    assert inside(tmp_path / "repo/a/../b", tree_of(spec))
    assert not inside(tmp_path / "repo/../x", tree_of(spec))


@pytest.mark.parametrize(
    "extends, fragment",
    [
        ("/etc/passwd", "absolute paths and ~ are refused"),
        ("~/.aws/credentials.yaml", "absolute paths and ~ are refused"),
        ("../secret.yaml", "is outside this spec's tree"),
        ("../../../../../../etc/hosts.yaml", "is outside this spec's tree"),
        ("notes.txt", "reads only .yaml or .yml files"),
        ("../secret.txt", "reads only .yaml or .yml files"),
    ],
)
def test_extends_reads_nothing_outside_the_tree(box, extends, fragment):
    spec = write(box, "spec.yaml", f"extends: {extends}\n" + BASE)
    write(box, "notes.txt", "name: x\n")
    err = refused("validate", spec, fragment=fragment)
    assert err.startswith(f"{spec}:1:10: extends: ")


def test_a_base_linked_out_of_the_tree_is_not_read(box):
    box.mkdir()
    (box / "base.yaml").symlink_to(box.parent / "secret.yaml")
    spec = write(box, "spec.yaml", "extends: base.yaml\n" + BASE)
    refused("validate", spec, fragment="is outside this spec's tree")


def test_a_spec_file_linked_to_a_secret_is_not_read(box):
    box.mkdir()
    (box / "spec.yaml").symlink_to(box.parent / "secret.yaml")
    refused("validate", box / "spec.yaml", fragment="a link to a file outside its folder")


def test_bases_across_folders_of_one_repository_still_compose(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, "specs/base.yaml", BASE)
    spec = write(tmp_path, "specs/sub/x.yaml", "extends: ../base.yaml\nseed: 3\n")
    assert load_spec(spec).seed == 3


def test_a_base_that_is_not_a_mapping_quotes_none_of_itself(box):
    write(box, "base.yaml", f"- {SECRET}\n- more\n")
    spec = write(box, "spec.yaml", "extends: base.yaml\n" + BASE)
    refused("validate", spec, fragment="a spec must be a mapping of keys")


@pytest.mark.parametrize(
    "field, value",
    [
        ("store", "/tmp/anywhere.zarr"),
        ("store", "~/anywhere.zarr"),
        ("store", "../../../anywhere.zarr"),
        ("compute.cache", "/tmp/reprdyn-cache"),
        ("compute.cache", "../ckpt"),
    ],
)
def test_a_spec_writes_only_inside_its_tree(box, field, value):
    line = f"store: {value}\n" if field == "store" else f"compute: {{cache: '{value}'}}\n"
    spec = write(box, "spec.yaml", BASE + line)
    hint = "--store PATH" if field == "store" else "--set compute.cache=PATH"
    err = refused("validate", spec, fragment=hint)
    assert f"{field}: " in err and "a spec writes only inside its own folder" in err
    refused("run", spec, fragment=hint, store=box / "anywhere.zarr")


def test_a_store_folder_linked_out_of_the_tree_counts_as_outside(box, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    box.mkdir()
    (box / "out").symlink_to(tmp_path / "elsewhere")
    spec = write(box, "spec.yaml", BASE + "store: out/s.zarr\n")
    refused("run", spec, fragment="leads out of the spec's tree")
    assert not (tmp_path / "elsewhere/s.zarr").exists()


def test_the_runner_chooses_any_place(box, tmp_path):
    spec = write(box, "spec.yaml", BASE + "store: inside.zarr\n")
    assert load_spec(spec).store == str(box / "inside.zarr")
    r = invoke(
        "run", spec, "--store", tmp_path / "mine.zarr", "--set", f"compute.cache={tmp_path}/c"
    )
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "mine.zarr").is_dir() and not (box / "inside.zarr").exists()


def test_the_environment_needs_consent(box, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("REPRDYN_ALLOW_ENV", raising=False)
    spec = write(box, "spec.yaml", BASE + "store: out-${AWS_SECRET_ACCESS_KEY}.zarr\n")
    err = refused("run", spec, fragment="needs your consent: pass --env AWS_SECRET_ACCESS_KEY")
    assert err.startswith(f"{spec}:") and "--set store=VALUE" in err
    assert not any(SECRET in p.name for p in box.iterdir())
    # a default does not stand in for consent, and an unset variable is named just the same
    spec = write(box, "d.yaml", npz("'${DATA:-d.npz}'"))
    refused("validate", spec, fragment="pass --env DATA")


def test_an_allowed_variable_expands(box, monkeypatch):
    monkeypatch.setenv("RUNS", "runs")
    spec = write(box, "spec.yaml", BASE + "store: ${RUNS}/s.zarr\n")
    assert invoke("validate", spec, "--env", "RUNS").exit_code == 0
    assert load_spec(spec, allow_env=["RUNS"]).store == str(box / "runs/s.zarr")
    monkeypatch.setenv("REPRDYN_ALLOW_ENV", "OTHER, RUNS")  # the runner's own list
    assert load_spec(spec).store == str(box / "runs/s.zarr")


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("name: !!binary aGVsbG8=\n", "YAML tag !!binary is not allowed"),
        ('seed: !!python/object/apply:os.system ["echo hi"]\n', "tag !!python/object/apply"),
        ("seed: !custom 3\n", "YAML tag !custom is not allowed"),
        ("sigma: {{{{{{{{{{{{{{{{}}}}}}}}}}}}}}}}\n", "a key must be a plain name"),
        ("sigma: {[a]: 1}\n", "a key must be a plain name"),
    ],
)
def test_tags_and_complex_keys_are_positioned_errors_at_once(box, line, fragment):
    spec = write(box, "spec.yaml", BASE + line)
    start = time.perf_counter()
    err = refused("validate", spec, fragment=fragment)
    assert time.perf_counter() - start < 1.0
    row = BASE.count("\n") + 1
    assert err.startswith(f"{spec}:{row}:")


def test_an_empty_path_is_a_positioned_error(box):
    spec = write(box, "spec.yaml", npz("''"))
    err = refused("validate", spec, fragment="an empty path")
    assert "datasets[0].path" in err


def test_nothing_is_written_and_the_environment_stays_out_of_the_store(box, monkeypatch):
    monkeypatch.setenv("RUNS", "runs")
    spec = write(box, "spec.yaml", BASE + "store: ${RUNS}/s.zarr\n")
    monkeypatch.chdir(box.parent)
    assert invoke("run", spec, "--env", "RUNS").exit_code == 0
    assert sorted(os.listdir(box)) == ["runs", "spec.yaml"]


def test_a_base_over_the_size_limit_is_refused_before_reading(box):
    big = box / "base.yaml"
    box.mkdir()
    with open(big, "wb") as fh:  # sparse: 2 MB that take no time to write
        fh.truncate(2_000_000)
    spec = write(box, "spec.yaml", "extends: base.yaml\n" + BASE)
    refused("validate", spec, fragment="a spec must be under 1,000,000")


def test_diff_takes_the_same_grants(box, monkeypatch):
    monkeypatch.setenv("RUNS", "runs")
    a = write(box, "a.yaml", BASE + "store: ${RUNS}/a.zarr\n")
    b = write(box, "b.yaml", BASE.replace("name: t", "name: u"))
    refused("diff", a, b, fragment="pass --env RUNS")
    r = invoke("diff", a, b, "--env", "RUNS")
    assert r.exit_code == 0 and "name" in r.stdout
