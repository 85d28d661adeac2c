"""The dask executor: a 2-process LocalCluster on loopback gives the local executor's cube, bit
for bit, because its workers run the same task code on the same shapes at the spec's thread count
on this machine (workers on another CPU kind would agree only within rounding; README)."""

from __future__ import annotations

import os

import pytest
import xarray.testing as xrt
from helpers import SMALL, run_losing_a_worker

import reprdyn
from reprdyn.runner import Hooks, RunOptions
from reprdyn.spec import validate_text

DASK = SMALL + "compute: {executor: dask, n_workers: 2}\n"


@pytest.mark.slow  # a cluster of worker processes
def test_localcluster_matches_local(small_store, tmp_path):
    spec = validate_text(DASK)
    done = []
    rows = reprdyn.run(
        spec, store=tmp_path / "d.zarr", options=RunOptions(hooks=Hooks(done=done.append))
    )
    assert len(done) == 1 + 5 + 1 + 1 and rows
    a, b = reprdyn.open(small_store), reprdyn.open(tmp_path / "d.zarr")
    xrt.assert_identical(a["toy"].load(), b["toy"].load())
    xrt.assert_identical(a.features("toy", "output").load(), b.features("toy", "output").load())
    assert reprdyn.run(spec, store=tmp_path / "d.zarr") == rows  # resumes: nothing left to do


@pytest.mark.slow  # a cluster of worker processes
def test_the_feature_analyses_match_local_bit_for_bit(tmp_path, shared_cache):
    """CKA, CKNNA, RankMe and the sliced Wasserstein distance go through numpy's BLAS, which a
    worker starts on one thread and this process on one per core (on 256-wide features, CKA then
    differs in its last bit): each task sets the spec's count, so the cubes agree to the bit."""
    from helpers import trained_spec

    rest = (
        "layers: [fc1]\nmetrics: [accuracy, cka, cknna, rankme, sw_distance]\n"
        "analysis: {max_samples: 600, bootstrap: 0}\n"
    )
    text = trained_spec("w", width=256, n_train=100, n_test=600, grid="sigma: [0.1, 1.0, 3.0]",
                        train="steps: 20", rest=rest)  # fmt: skip
    cache = [f"compute.cache={shared_cache}"]
    reprdyn.run(validate_text(text, overrides=cache), store=tmp_path / "l.zarr")
    dask = text + "compute: {executor: dask, n_workers: 2}\n"
    reprdyn.run(validate_text(dask, overrides=cache), store=tmp_path / "d.zarr")
    a, b = reprdyn.open(tmp_path / "l.zarr"), reprdyn.open(tmp_path / "d.zarr")
    xrt.assert_identical(a["m"].load(), b["m"].load())


@pytest.mark.slow  # a cluster of worker processes
def test_failures_are_reported_once_and_dependents_skipped(tmp_path, monkeypatch, dask_address):
    """A task that raises on a worker is reported with its error and run once, whatever
    compute.retries says (retries are for dead workers); the tasks that need it are skipped and
    the rest run (on the session's LocalCluster, reached by its address)."""
    from reprdyn.runner import TasksFailed

    spec = validate_text(DASK.replace("n_workers: 2", "n_workers: 1, retries: 2"))
    import pytest

    import reprdyn.runner.cluster as dx

    calls = tmp_path / "calls"

    def boom(task, spec, path):
        if task.stage == "theory":
            with open(calls, "a") as fh:
                fh.write("x")
            raise RuntimeError("theory exploded")
        return real(task, spec, path)

    real = dx._remote
    monkeypatch.setattr(dx, "_remote", boom)
    with pytest.raises(TasksFailed) as e:
        reprdyn.run(spec, store=tmp_path / "f.zarr", options=RunOptions(dask=dask_address))
    assert [f["task"] for f in e.value.failures] == ["theory toy"]
    assert "theory exploded" in e.value.failures[0]["error"]
    assert calls.read_text() == "x"  # run once


def test_a_task_error_on_a_worker_comes_back_as_its_result(monkeypatch):
    """`_remote` never raises for the task's own error: it returns reprdyn's one-line message, so
    Dask neither retries the task nor prints its traceback."""
    import distributed

    import reprdyn.runner.cluster as dx
    from reprdyn.stages.base import NoParams, Stage, Task

    events = []

    class Worker:
        address = "tcp://127.0.0.1:1"

        def log_event(self, topic, msg):
            events.append((topic, msg))

    def fails(task, ctx, io):
        raise ValueError("no such layer 'x'")

    monkeypatch.setattr(distributed, "get_worker", lambda: Worker())
    monkeypatch.setattr(dx, "run_task", fails)
    monkeypatch.setattr(dx, "_context", lambda spec, path: None)
    task = Task(Stage.THEORY, "toy", NoParams(), "k1")
    out = dx._remote(task, None, "s.zarr")
    assert out["status"] == "error" and out["error"].startswith("ValueError: no such layer 'x'")
    assert events == [(dx.STARTED, {"key": "k1", "worker": Worker.address})]


def test_only_ready_tasks_go_to_the_cluster_and_failures_block_their_dependents():
    """A task is handed out once its upstream tasks of this run are done (deps from an earlier
    run count as done); the dependents of a failed task are skipped, transitively."""
    from reprdyn.runner.cluster import _Ready
    from reprdyn.stages.base import NoParams, Stage, Task

    def t(key, *deps):
        return Task(Stage.PROBE, "toy", NoParams(), key, deps=deps)

    failed = []
    ready = _Ready(
        [t("a", "old"), t("b", "a"), t("c", "b"), t("d", "a")], lambda x, why: failed.append(x.key)
    )
    assert [x.key for x in ready.take()] == ["a"]
    assert ready.take() == []
    ready.done.add("a")
    assert [x.key for x in ready.take()] == ["b", "d"]
    ready.broken.add("b")
    assert ready.take() == [] and failed == ["c"] and not ready.waiting


def test_the_scheduler_address_comes_from_the_command_line_or_the_environment(
    small_spec_file, tmp_path, monkeypatch
):
    """A spec cannot name a scheduler (the bad-spec corpus checks the refusal); --dask and
    REPRDYN_DASK_ADDRESS reach the dask executor, which connects there and starts no cluster."""
    from typer.testing import CliRunner

    import reprdyn.runner.executors as ex
    from reprdyn.cli import app

    seen = []
    monkeypatch.setattr(
        ex, "EXECUTORS", {**ex.EXECUTORS, "dask": lambda *a, address=None: seen.append(address)}
    )
    r = CliRunner().invoke(
        app,
        [
            "run",
            str(small_spec_file),
            "--store",
            str(tmp_path / "a.zarr"),
            "--dask",
            "tcp://127.0.0.1:1",
        ],
    )
    assert seen == ["tcp://127.0.0.1:1"], r.output
    monkeypatch.setenv("REPRDYN_DASK_ADDRESS", "tcp://127.0.0.1:2")
    CliRunner().invoke(app, ["run", str(small_spec_file), "--store", str(tmp_path / "b.zarr")])
    assert seen[-1] == "tcp://127.0.0.1:2"
    from reprdyn.runner.cluster import _client

    class Compute:  # a LocalCluster would take these; an address must not start one
        n_workers, threads_per_worker = 1, 1

    import distributed

    monkeypatch.setattr(distributed, "Client", lambda address: ("client of", address))
    assert _client(Compute(), "tcp://127.0.0.1:3") == (("client of", "tcp://127.0.0.1:3"), None)


@pytest.mark.slow  # a cluster of worker processes
def test_a_task_starts_when_a_worker_begins_it(tmp_path, dask_address):
    """on_start comes from the worker, so no task 'starts' before what it depends on is done (at
    submission every task would)."""
    spec = validate_text(DASK)
    heard = []
    reprdyn.run(
        spec,
        store=tmp_path / "e.zarr",
        options=RunOptions(
            dask=dask_address,
            hooks=Hooks(
                start=lambda t: heard.append(("start", t)),
                done=lambda t: heard.append(("done", t)),
            ),
        ),
    )
    order = {(kind, t.key): i for i, (kind, t) in enumerate(heard)}
    tasks = {t.key: t for _, t in heard}
    assert len(heard) == 2 * len(tasks)
    for t in tasks.values():
        assert order["start", t.key] < order["done", t.key]
        for d in t.deps:
            assert order["done", d] < order["start", t.key], (t.label, tasks[d].label)


@pytest.mark.slow  # a cluster of worker processes
def test_a_lost_worker_is_reported_and_the_cube_is_unchanged(tmp_path, caplog):
    """A worker killed while it holds a task: the run says which worker was lost and what it
    held, the scheduler runs those tasks elsewhere, and the cube equals a local run's."""
    import signal

    from distributed import LocalCluster

    text = SMALL.replace("n_train: 300", "n_train: 3000")
    local = tmp_path / "local.zarr"
    reprdyn.run(validate_text(text), store=local)
    spec = validate_text(text + "compute: {executor: dask}\n")
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:  # fmt: skip
        killed, lost = run_losing_a_worker(
            spec, tmp_path / "d.zarr", cluster, lambda w: os.kill(w.pid, signal.SIGKILL), caplog
        )
    assert lost and killed in lost[0] and "features toy" in lost[0]
    a, b = reprdyn.open(local), reprdyn.open(tmp_path / "d.zarr")
    xrt.assert_identical(a["toy"].load(), b["toy"].load())


def _on_a_gpu_worker(i: int) -> dict:
    import os
    import time

    from distributed import get_worker

    start = time.monotonic()
    time.sleep(0.2)
    return {
        "worker": get_worker().address,
        "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "span": (start, time.monotonic()),
    }


@pytest.mark.slow  # a cluster of worker processes
def test_one_worker_per_gpu_and_gpu_tasks_placed_by_resource():
    """gpu_cluster: one worker per GPU, each seeing only its own (CUDA_VISIBLE_DEVICES) and
    offering GPU=1. With a plain worker beside them, tasks asking for a GPU run only on the GPU
    workers, one at a time on each (fake resources: no GPU is needed to test the placement)."""
    import subprocess
    import sys

    from distributed import Client

    from reprdyn.runner.cluster import GPU_WORKER, gpu_cluster

    with gpu_cluster(["0", "1"]) as cluster, Client(cluster) as client:
        plain = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
             "--nthreads", "2", "--no-dashboard", "--host", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            client.wait_for_workers(3, timeout=60)
            env = client.run(
                lambda: (os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get(GPU_WORKER))
            )
            gpus = {w for w, (dev, flag) in env.items() if flag}
            assert sorted(env[w][0] for w in gpus) == ["0", "1"] and len(env) == 3
            futures = [client.submit(_on_a_gpu_worker, i, resources={"GPU": 1}) for i in range(8)]
            runs = client.gather(futures)
        finally:
            plain.terminate()
            plain.wait()
    assert {r["worker"] for r in runs} == gpus  # both GPU workers, never the plain one
    assert {r["gpu"] for r in runs} == {"0", "1"}
    for w in gpus:
        spans = sorted(r["span"] for r in runs if r["worker"] == w)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # one at a time


def test_tasks_ask_for_a_gpu_when_the_run_uses_one(monkeypatch):
    """On a CUDA device every task is submitted with resources={'GPU': 1}."""
    import reprdyn.runner.cluster as dx
    from reprdyn.stages.base import NoParams, Stage, Task

    seen = []

    class Client:
        def submit(self, fn, *args, key, resources, pure):
            seen.append(resources)

    ctx = type("Ctx", (), {"spec": None, "path": "s.zarr"})()
    for task in (
        Task(Stage.DATA, "toy", NoParams(), "a"),
        Task(Stage.THEORY, "toy", NoParams(), "b"),
    ):
        dx.submit(Client(), task, ctx, {"GPU": 1})
    assert seen == [{"GPU": 1}, {"GPU": 1}]


def test_a_checkout_in_the_working_folder_is_named_before_workers_fail(tmp_path):
    """Run from the folder above a checkout named like the package, dask-jobqueue's workers would
    import the checkout as a namespace package: reprdyn says so before the tasks fail, and a task
    that fails to deserialize says why."""
    from reprdyn.runner.cluster import _shadow_hint, shadowing_folder

    (tmp_path / "reprdyn" / "reprdyn").mkdir(parents=True)  # a checkout's root, and its package
    (tmp_path / "reprdyn" / "reprdyn" / "__init__.py").write_text("")
    assert shadowing_folder(tmp_path) == tmp_path / "reprdyn"
    assert shadowing_folder(tmp_path / "reprdyn") is None  # the package folder has no twin there
    (tmp_path / "reprdyn" / "__init__.py").write_text("")
    assert shadowing_folder(tmp_path) is None  # a real package: not a namespace shadow
    why = _shadow_hint("ModuleNotFoundError: No module named 'reprdyn.runner.cluster'")
    assert "start the workers" in why and "from another folder" in why
    assert _shadow_hint("ValueError: bad") == "ValueError: bad"
