"""Shared fixtures: small stores built once per session and only read, the checkpoint cache
they share, a LocalCluster; the suite's thread count.

The suite runs torch on one thread, deliberately: on a shared 2-core machine a second thread makes
small work several times slower (benchmarks/threads.py), and subprocesses inherit the setting.
"""

from __future__ import annotations

import os
import tempfile

from reprdyn.runner import RunOptions

os.environ["OMP_NUM_THREADS"] = "1"  # before torch starts its pool, here and in every subprocess
# the tests never reach the network: a hub id that is not cached fails at once, with no retries
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# nor the user's own cache: checkpoints, rendered glyphs and layer shapes go to a folder of the run
os.environ["REPRDYN_CACHE"] = tempfile.mkdtemp(prefix="reprdyn-test-cache-")

import atexit
import hashlib
import shutil
from pathlib import Path

import pytest
from helpers import REPLICATED, ROOT, SEG_SMALL, SMALL, copy_store

atexit.register(shutil.rmtree, os.environ["REPRDYN_CACHE"], True)


def pytest_collection_modifyitems(config, items):
    """The long fuzzing profile runs only when asked for (`pytest -m fuzz`)."""
    if "fuzz" not in (config.getoption("markexpr") or ""):
        skip = pytest.mark.skip(reason="the long fuzzing profile: pytest -m fuzz")
        for item in items:
            if "fuzz" in item.keywords:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, config):
    """The random order's seed, even under -q (pytest-randomly puts it in the header, which -q
    hides), so a failure that depends on the order can be repeated."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(
            f"tests ran in random order {seed}: repeat it with -p randomly --randomly-seed={seed}"
        )


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def small_spec_file(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture
def small_spec(small_spec_file):
    from reprdyn import load_spec

    return load_spec(small_spec_file)


def _digest(path: Path) -> dict[str, str]:
    """Every file under `path` and the hash of its bytes."""
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def _read_only(path: Path):
    """A fixture body that hands out `path` and fails the test that wrote into it."""
    before = _digest(path)
    yield path
    after = _digest(path)
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        pytest.fail(
            f"this test wrote into the shared read-only store {path.name} ({changed[:5]}); "
            "write into a copy (helpers.copy_store) instead"
        )


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One checkpoint cache for the session: a network a spec trains is trained once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def _small_store(tmp_path_factory) -> Path:
    from reprdyn import load_spec, run

    root = tmp_path_factory.mktemp("small")
    (root / "small.yaml").write_text(SMALL)
    run(
        load_spec(root / "small.yaml"),
        store=root / "small.zarr",
        options=RunOptions(spec_text=SMALL),
    )
    return root / "small.zarr"


@pytest.fixture
def small_store(_small_store):
    """SMALL's store, built once per session: read it; copy it (helpers.copy_store) to write."""
    yield from _read_only(_small_store)


@pytest.fixture
def small_store_copy(_small_store, tmp_path) -> Path:
    """A copy of SMALL's store of this test's own, to write into."""
    return copy_store(_small_store, tmp_path / "small.zarr")


@pytest.fixture(scope="session")
def _theory_store(tmp_path_factory) -> tuple[Path, list]:
    from reprdyn import load_spec, run

    path = tmp_path_factory.mktemp("theory") / "molrg-theory.zarr"
    rows = run(load_spec(ROOT / "specs" / "molrg-theory.yaml"), store=path)
    return path, rows


@pytest.fixture
def theory_store(_theory_store):
    """The shipped molrg-theory job's store, built once per session (read-only)."""
    yield from _read_only(_theory_store[0])


@pytest.fixture(scope="session")
def theory_rows(_theory_store) -> list:
    """The summary rows the molrg-theory run returned."""
    return _theory_store[1]


@pytest.fixture(scope="session")
def _seg_store(tmp_path_factory, shared_cache) -> tuple[object, Path]:
    from reprdyn import load_spec, run

    tmp = tmp_path_factory.mktemp("seg")
    (tmp / "seg.yaml").write_text(SEG_SMALL)
    spec = load_spec(tmp / "seg.yaml", [f"compute.cache={shared_cache}"])  # the runner's cache
    run(spec, store=tmp / "seg.zarr", options=RunOptions(spec_text=SEG_SMALL))
    return spec, tmp / "seg.zarr"


@pytest.fixture
def seg_run(_seg_store):
    """SEG_SMALL's spec and store (a one-epoch U-Net on two glyphs), built once (read-only)."""
    spec, path = _seg_store
    for p in _read_only(path):
        yield spec, p


@pytest.fixture(scope="session")
def _replicated(tmp_path_factory, shared_cache):
    import reprdyn
    from reprdyn.spec import validate_text

    tmp = tmp_path_factory.mktemp("rep")
    spec = validate_text(REPLICATED, overrides=[f"compute.cache={shared_cache}"])
    rows = reprdyn.run(spec, store=tmp / "r.zarr")
    return spec, tmp, rows


@pytest.fixture
def replicated(_replicated):
    """REPLICATED's (spec, folder, summary rows): one run, read by several modules."""
    spec, tmp, rows = _replicated
    for _ in _read_only(tmp / "r.zarr"):
        yield spec, tmp, rows


@pytest.fixture(scope="session")
def dask_address():
    """A 2-process LocalCluster on loopback for the session; its scheduler's address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:
        yield cluster.scheduler_address
