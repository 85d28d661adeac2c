"""The machine check: this machine's memory and free disk, the spec-level estimate against the
preflight's, and a run that cannot fit refused from the spec's shapes before anything is built."""

from __future__ import annotations

import shutil

import pytest
from helpers import SMALL, TOY_MLP, molrg_spec
from typer.testing import CliRunner

from reprdyn.cli import app
from reprdyn.runner.budget import BudgetExceeded, estimate
from reprdyn.runner.context import Context
from reprdyn.runner.machine import check_machine, free_disk, machine, spec_estimate
from reprdyn.spec import validate_text


def test_this_machine_reports_its_memory_and_disk(tmp_path):
    available, total = machine()
    assert 0 < available <= total
    deep = tmp_path / "not" / "yet" / "there.zarr"  # the nearest existing folder's file system
    assert free_disk(str(deep)) == shutil.disk_usage(tmp_path).free


def test_the_molrg_estimate_is_the_output_cube_counted_by_hand():
    spec = validate_text(molrg_spec(n_train=30, n_test=20, rest="inputs: [clean, noisy]\n"))
    store, _, unknown = spec_estimate(spec)
    S, inputs, n, width = 3, 2, 30 + 20, 12  # sigmas, inputs, samples, the output's n
    assert store == S * inputs * n * width * 4 and unknown == []


def test_a_store_larger_than_the_free_disk_is_refused(monkeypatch, tmp_path):
    import reprdyn.runner.machine as m

    monkeypatch.setattr(m, "free_disk", lambda path: 1000)
    with pytest.raises(BudgetExceeded, match="has 1000 B free"):
        check_machine(validate_text(molrg_spec()), str(tmp_path / "s.zarr"))


def test_a_run_that_cannot_fit_the_machine_is_refused_before_anything_is_built(
    tmp_path, monkeypatch
):
    """n_train: 3e7 on MoLRG: refused from the spec's shapes alone, with the figures, before any
    sample exists; --ignore-machine-limits would let it try."""
    import reprdyn.data as data
    import reprdyn.runner.machine as budget

    monkeypatch.setattr(budget, "machine", lambda: (4 << 30, 8 << 30))  # a 4 GiB-free machine
    built = []
    monkeypatch.setattr(data, "build_dataset", lambda *a, **k: built.append(a))
    (tmp_path / "big.yaml").write_text(SMALL.replace("n_train: 300", "n_train: 3e7"))
    r = CliRunner().invoke(
        app, ["run", str(tmp_path / "big.yaml"), "--store", str(tmp_path / "b.zarr")]
    )
    assert r.exit_code == 2 and "of memory, and this machine has 4.0 GiB available" in r.stderr
    assert (
        "--ignore-machine-limits" in r.stderr and not built and not (tmp_path / "b.zarr").exists()
    )


def test_the_spec_estimate_matches_the_preflight(tmp_path):
    from reprdyn.runner.machine import spec_estimate

    spec = validate_text(TOY_MLP)
    store, peak, unknown = spec_estimate(spec)
    assert store == estimate(Context.create(spec), "toy").store_bytes and not unknown
