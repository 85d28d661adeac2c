"""The run ledger: torn and unreadable manifest lines, lost lines rerun what depends on them."""

from __future__ import annotations

import json

import xarray.testing as xrt
from helpers import SMALL, copy_store

from reprdyn import store
from reprdyn.runner import Hooks, RunOptions
from reprdyn.spec import validate_text


def test_manifest_tolerates_torn_line(tmp_path):
    tmp_path.joinpath(store.MANIFEST).write_text('{"key": "a"}\n{"key": "b"}\n{"ke')
    assert store.done_keys(tmp_path) == {"a", "b"}


def test_a_lost_data_line_reruns_everything_downstream_and_loses_nothing(small_store, tmp_path):
    """Repro of the review: drop the data task's manifest line and run again. Everything computed
    from the data is redone (not just the data task re-allocating empty arrays), and the cube is the
    same as before."""

    import reprdyn

    path = copy_store(small_store, tmp_path / "s.zarr")
    lines = (path / store.MANIFEST).read_text().splitlines()
    (path / store.MANIFEST).write_text("\n".join(lines[1:]) + "\n")  # the data task's line goes
    ran = []
    reprdyn.run(validate_text(SMALL), store=path, options=RunOptions(hooks=Hooks(start=ran.append)))
    assert ran[0].stage == "data" and len(ran) == len(lines)  # all of it, downstream included
    xrt.assert_identical(reprdyn.open(small_store)["toy"].load(), reprdyn.open(path)["toy"].load())


def test_an_unreadable_manifest_line_is_an_error_that_names_it(small_store, tmp_path):
    from typer.testing import CliRunner

    from reprdyn.cli import app

    path = copy_store(small_store, tmp_path / "s.zarr")
    lines = (path / store.MANIFEST).read_text().splitlines()
    lines[2] = "{garbled"
    (path / store.MANIFEST).write_text("\n".join(lines) + "\n")
    (tmp_path / "s.yaml").write_text(SMALL)
    r = CliRunner().invoke(app, ["run", str(tmp_path / "s.yaml"), "--store", str(path)])
    assert r.exit_code == 2 and f"{path / store.MANIFEST}:3: this manifest line" in r.stderr
    r = CliRunner().invoke(app, ["status", str(path)])
    assert r.exit_code == 2 and ":3:" in r.stderr


def test_a_torn_last_line_is_redone_and_cut_off(small_store, tmp_path):
    path = copy_store(small_store, tmp_path / "s.zarr")
    text = (path / store.MANIFEST).read_text()
    keys = store.done_keys(path)
    (path / store.MANIFEST).write_text(text + '{"key": "abc", "ta')  # killed mid-write
    assert store.done_keys(path) == keys
    store.mark_done(path, "k2", "next")
    assert (path / store.MANIFEST).read_text() == text + json.dumps(
        json.loads((path / store.MANIFEST).read_text().splitlines()[-1])
    ) + "\n"
