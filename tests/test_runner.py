"""End to end: determinism, resume, and the paper's unimodal curve on the shipped spec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray.testing as xrt

import reprdyn
from reprdyn import store as st
from reprdyn.plan import plan
from reprdyn.runner import plan_status


def test_two_runs_give_identical_cubes(small_spec, small_store, tmp_path):
    other = tmp_path / "again.zarr"
    reprdyn.run(small_spec, store=other)
    a, b = reprdyn.open(small_store), reprdyn.open(other)
    xrt.assert_identical(a["toy"].load(), b["toy"].load())
    xrt.assert_identical(a.features("toy", "output").load(), b.features("toy", "output").load())


def test_resume_skips_done_tasks_and_force_reruns(small_spec, small_store):
    assert {s for _, s in plan_status(small_spec, small_store)} == {"done"}
    seen = []
    reprdyn.run(small_spec, store=small_store, on_start=seen.append)
    assert seen == []
    before = reprdyn.open(small_store)["toy"].load()
    reprdyn.run(small_spec, store=small_store, on_start=seen.append, force=True)
    assert len(seen) == len(plan(small_spec))
    xrt.assert_identical(before, reprdyn.open(small_store)["toy"].load())


def test_interrupted_run_resumes_to_the_same_cube(small_spec, small_store, tmp_path):
    path = tmp_path / "cut.zarr"
    tasks = plan(small_spec)

    def stop_after_features(task):
        if task.stage == "theory":
            raise KeyboardInterrupt

    try:
        reprdyn.run(small_spec, store=path, on_start=stop_after_features)
    except KeyboardInterrupt:
        pass
    assert len(st.done_keys(path)) == 6 < len(tasks)
    reprdyn.run(small_spec, store=path)
    xrt.assert_identical(reprdyn.open(small_store)["toy"].load(), reprdyn.open(path)["toy"].load())


def test_shipped_theory_spec_is_unimodal(tmp_path):
    spec = reprdyn.load_spec(Path(__file__).parents[1] / "specs" / "molrg-theory.yaml")
    rows = reprdyn.run(spec, store=tmp_path / "t.zarr")
    (row,) = rows
    assert row.unimodal == "yes" and 0.2 < row.best_sigma < 2 and row.best_accuracy.value > 0.9
    assert row.best_accuracy.low < row.best_accuracy.value < row.best_accuracy.high
    assert 0.2 < row.csnr_peak_sigma < 2  # an interior CSNR peak
    ds = reprdyn.open(tmp_path / "t.zarr")["molrg"]
    acc = ds["accuracy"].squeeze()
    # docs/theory.md §5 probe column: ~0.70 at the clean end, ~0.93 at the peak, falling at large
    # sigma
    assert abs(float(acc.isel(sigma=0)) - 0.70) < 0.05
    assert float(acc.isel(sigma=-1)) < 0.5


MLP_SPEC = """spec_version: 1
name: mlp
model:
  kind: diffusion
  network: {kind: mlp, width: 64}
  precond: {kind: vp}
  train: {data: m, epochs: 3, batch_size: 64}
datasets: [{kind: molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 300, n_test: 200}]
timesteps: [1, 50, 150, 300]
layers: [fc2, output]
probes:
  - {kind: logistic, name: linear, layers: [fc2]}
  - {kind: logistic, name: posterior, layers: [output], transform: abs, standardize: false}
metrics: [accuracy, class_accuracy, csnr]
"""

UNET_SPEC = """spec_version: 1
name: unet
models:
  diffusion:
    kind: diffusion
    network: {kind: unet, channels: 8, mult: [1, 2]}
    precond: {kind: edm}
    train: {data: digits, steps: 20, batch_size: 64}
  dae:
    kind: dae
    network: {kind: unet, channels: 8, mult: [1, 2]}
    precond: {kind: edm}
    train: {data: digits, steps: 20, batch_size: 64}
datasets: [{kind: digits, name: digits}]
sigma: [0.05, 0.5, 2.0]
layers: [enc.1, mid, output]
inputs: [clean, noisy]
noise_draws: 2
label_noise: [0.0, 0.2, 0.4, 0.6, 0.8]
"""


def test_trained_mlp_on_molrg(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    from reprdyn.spec import validate_text

    spec = validate_text(MLP_SPEC)
    reprdyn.run(spec, store=tmp_path / "a.zarr")
    res = reprdyn.open(tmp_path / "a.zarr")
    ds = res["m"]
    assert list(ds.timestep.values) == [1, 50, 150, 300] and ds.timestep.dims == ("sigma",)
    acc = ds["accuracy"]
    assert (
        acc.sel(layer="fc2", probe="linear").notnull().all()
        and acc.sel(layer="fc2", probe="posterior").isnull().all()
    )
    assert ds["csnr_overall"].notnull().all()
    assert res.features("m", "fc2")["features"].shape == (1, 4, 1, 500, 64)
    assert res.features("m", "output")["features"].shape == (1, 4, 1, 500, 12)
    # same spec, fresh cache and store: identical cube (training included) on CPU
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache2"))
    reprdyn.run(spec, store=tmp_path / "b.zarr")
    xrt.assert_identical(ds.load(), reprdyn.open(tmp_path / "b.zarr")["m"].load())


def test_unet_dae_vs_diffusion_on_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    from reprdyn.spec import validate_text

    spec = validate_text(UNET_SPEC)
    # one diffusion model, one DAE per sigma
    assert [t.stage for t in plan(spec)].count("train") == 1 + 3
    rows = reprdyn.run(spec, store=tmp_path / "u.zarr")
    assert {r.model for r in rows} == {"diffusion", "dae"} and len(rows) == 2 * 3 * 2
    ds = reprdyn.open(tmp_path / "u.zarr")["digits"]
    assert ds["accuracy"].dims[0] == "model" and list(ds.model.values) == ["diffusion", "dae"]
    for v in ds.data_vars:  # label noise 0..0.8 and ensembles: every variable is filled
        if v.startswith("diffusion_minus_dae"):  # a difference at the DAE, NaN at the diffusion
            assert (
                ds[v].sel(model="dae").notnull().all()
                and ds[v].sel(model="diffusion").isnull().all()
            )
            continue
        assert ds[v].notnull().all() or v == "ensemble_members", v
    f = reprdyn.open(tmp_path / "u.zarr").features("digits", "mid")["features"]
    assert f.dims == ("model", "replicate", "sigma", "input", "sample", "channel") and f.shape == (
        2,
        1,
        3,
        2,
        1797,
        16,
    )
    assert float(ds["accuracy"].max()) > 0.5  # far above chance (0.1) even after 20 steps
    # the features at sigma_i come from the DAE trained at sigma_i: rebuild each DAE from its
    # checkpoint (ensure_trained finds it in the cache) and extract by hand; the other DAEs give
    # other features
    import numpy as np
    import torch

    from reprdyn.data import build_dataset
    from reprdyn.extract import extract
    from reprdyn.train import ensure_trained

    cfg = spec.models["dae"]
    data = build_dataset(spec.datasets[0], spec.seed)
    x = torch.as_tensor(data.x[:64])
    daes = [ensure_trained(cfg, data.train(), [s], spec.seed, None, "cpu")[0] for s in spec.sigmas]
    for i, s in enumerate(spec.sigmas):
        stored = f.sel(model="dae", replicate=0, sigma=s, input="clean").isel(sample=slice(0, 64))
        stored = stored.values
        mine = [extract(dae, x, s, ["mid"])["mid"].numpy() for dae in daes]
        np.testing.assert_allclose(stored, mine[i], rtol=1e-5, atol=1e-6)
        assert all(np.abs(stored - m).max() > 1e-3 for j, m in enumerate(mine) if j != i)


KILL = """spec_version: 1
name: kill
model: {kind: molrg-optimal}
datasets: [{kind: molrg, name: toy, n: 40, K: 4, d: 5, delta: 0.3, n_train: 4000, n_test: 2000}]
sigma: {start: 0.01, stop: 10, num: 40}
probes: [{kind: ridge, transform: abs}, {kind: logistic, transform: abs}]
label_noise: [0.0, 0.3]
"""


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    """SIGKILL a real `reprdyn run` mid-way, run it again: the cube equals an uninterrupted
    run's."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from reprdyn.spec import validate_text

    spec_file = tmp_path / "kill.yaml"
    spec_file.write_text(KILL)
    store = tmp_path / "killed.zarr"
    cmd = [sys.executable, "-m", "reprdyn", "run", str(spec_file), "--store", str(store)]
    # both runs in fresh processes with the same environment: float reductions (L-BFGS) are
    # bit-for-bit only at a fixed thread count, and dask tests may leave OMP_NUM_THREADS behind
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(st.done_keys(store)) < 10 and proc.poll() is None:
        time.sleep(0.02)  # kill it among the feature tasks
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(st.done_keys(store))
    assert 10 <= killed_at < len(plan(validate_text(KILL))), (killed_at, proc.stderr.read()[-2000:])
    assert subprocess.run(cmd, capture_output=True, env=env).returncode == 0
    whole = cmd[:-1] + [str(tmp_path / "whole.zarr")]
    assert subprocess.run(whole, capture_output=True, env=env).returncode == 0
    a, b = reprdyn.open(store), reprdyn.open(tmp_path / "whole.zarr")
    xrt.assert_identical(a["toy"].load(), b["toy"].load())
    xrt.assert_identical(a.features("toy", "output").load(), b.features("toy", "output").load())


def test_partial_task_is_redone(small_spec, small_store, tmp_path):
    """A task whose region was half written but never committed to the manifest is detected and
    redone."""
    import shutil

    import zarr

    path = tmp_path / "partial.zarr"
    shutil.copytree(small_store, path)
    keys = [t.key for t in plan(small_spec) if t.stage == "features"]
    arr = zarr.open_array(str(path / "datasets/toy/features/output/features"), mode="r+")
    arr[0, 2, 0, :100] = 123.0  # garbage in sigma 2's region ...
    lines = (path / st.MANIFEST).read_text().splitlines()
    # ... uncommitted
    (path / st.MANIFEST).write_text("\n".join(x for x in lines if keys[2] not in x) + "\n")
    status = {r["key"]: r["status"] for r in st.task_status(path)}
    probe = [t.key for t in plan(small_spec) if t.stage == "probe"]
    # the features task, and the probe computed from it, are redone
    assert {k for k, v in status.items() if v == "pending"} == {keys[2], *probe}
    ran = []
    reprdyn.run(small_spec, store=path, on_start=ran.append)
    assert [t.key for t in ran] == [keys[2], *probe]
    xrt.assert_identical(
        reprdyn.open(small_store).features("toy", "output").load(),
        reprdyn.open(path).features("toy", "output").load(),
    )


def test_second_run_is_refused_while_locked(small_spec, small_store):
    import pytest

    with st.StoreLock(small_store):
        with pytest.raises(
            st.StoreLocked,
            match=r"another reprdyn run \(process \d+ on .*\) is writing to this store",
        ):
            reprdyn.run(small_spec, store=small_store)


def test_a_busy_store_is_refused_before_data_and_models_load(small_spec, small_store, monkeypatch):
    """The lock (and the spec's identity) come before the preflight, which can take minutes with a
    large pretrained model."""
    import reprdyn.runner as runner

    loaded = []
    monkeypatch.setattr(runner, "preflight", lambda ctx, log=None: loaded.append(1))
    with st.StoreLock(small_store), pytest.raises(st.StoreLocked):
        reprdyn.run(small_spec, store=small_store)
    assert loaded == []


def test_wait_queues_behind_the_lock(small_spec, small_store):
    import os
    import socket
    import threading
    import time

    lock = st.StoreLock(small_store).__enter__()
    threading.Timer(0.5, lock.__exit__, (None, None, None)).start()
    t, heard = time.time(), []
    reprdyn.run(small_spec, store=small_store, wait=True, on_wait=heard.append)
    assert time.time() - t >= 0.4
    assert heard == [
        f"waiting for process {os.getpid()} on {socket.gethostname()} to finish writing "
        f"{small_store}"
    ]  # said before waiting, naming the holder


def test_catalog_tells_complete_partial_and_failed_apart(small_spec, small_store, tmp_path):
    import shutil

    from reprdyn.catalog import catalog

    root = tmp_path / "stores"
    shutil.copytree(small_store, root / "done.zarr")
    shutil.copytree(small_store, root / "team/half.zarr")  # nested a level deeper
    lines = (root / "team/half.zarr" / st.MANIFEST).read_text().splitlines()
    (root / "team/half.zarr" / st.MANIFEST).write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    shutil.copytree(small_store, root / "bad.zarr")
    key = next(t for t in plan(small_spec) if t.stage == "probe")
    manifest = root / "bad.zarr" / st.MANIFEST
    manifest.write_text(
        "".join(x + "\n" for x in manifest.read_text().splitlines() if key.key not in x)
    )
    st.record_failures(root / "bad.zarr", [{"key": key.key, "task": key.label, "error": "boom"}])
    (root / "notes").mkdir()  # folders that are not stores are skipped
    rows = {Path(r["store"]).name: r for r in catalog(root)}
    assert {k: r["status"] for k, r in rows.items()} == {
        "done.zarr": "complete",
        "half.zarr": "partial",
        "bad.zarr": "failed",
    }
    assert rows["done.zarr"]["best"] is not None and rows["half.zarr"]["best"] is None
    assert len({r["spec_hash"] for r in rows.values()}) == 1


def test_catalog_headline_is_chosen_on_validation(tmp_path, monkeypatch):
    """Two probes; the one that is worse on validation is rigged to be perfect on test. The catalog
    reports the probe validation prefers, with its test accuracy at its own sigma*."""
    from conftest import SMALL

    import reprdyn.probes.protocol as tasks
    from reprdyn.catalog import catalog
    from reprdyn.spec import validate_text

    spec = validate_text(
        SMALL.replace(
            "probes: [{kind: logistic, transform: abs, standardize: false}]",
            "probes: [{kind: logistic, transform: abs, standardize: false},\n         {kind: "
            "ridge, name: raw}]",
        )
    )
    real = tasks.evaluate
    calls = []

    def rigged(test_logits, y_test, best, members, K):
        acc, cls, ens = real(test_logits, y_test, best, members, K)
        calls.append(1)
        if len(calls) == 2:  # the second probe task: ridge on raw features
            acc[:] = 1.0
        return acc, cls, ens

    monkeypatch.setattr(tasks, "evaluate", rigged)
    reprdyn.run(spec, store=tmp_path / "c" / "s.zarr")
    ds = reprdyn.open(tmp_path / "c" / "s.zarr")["toy"].isel(label_noise=0)
    assert float(ds["accuracy"].sel(probe="raw").max()) == 1.0  # the rigged probe wins on test ...
    (row,) = catalog(tmp_path / "c")
    assert row["best"]["what"] == "toy/output/clean/logistic"  # ... but validation picks the other
    assert row["best"]["test_accuracy"] == pytest.approx(
        float(ds["best_accuracy"].sel(probe="logistic").mean())
    )


@pytest.fixture(scope="module")
def replicated(tmp_path_factory):
    """A molrg-optimal posterior beside a trained MLP with three replicates, clean and noisy inputs,
    the raw-input baseline: one run, read by the tests below."""
    from test_plan import REPLICATED

    from reprdyn.spec import validate_text

    tmp = tmp_path_factory.mktemp("rep")
    text = REPLICATED + f"compute: {{cache: {tmp / 'cache'}}}\n"
    spec = validate_text(text)
    rows = reprdyn.run(spec, store=tmp / "r.zarr")
    return spec, tmp, rows


def test_replicates_are_trained_apart_and_share_the_cube(replicated):
    spec, tmp, rows = replicated
    ds = reprdyn.open(tmp / "r.zarr")["m"]
    acc = ds["accuracy"].sel(layer="output", probe="ridge", label_noise=0, seed=0)
    assert list(ds.replicate.values) == [0, 1, 2]
    assert acc.sel(model="mlp").notnull().all()  # three trained replicates
    assert acc.sel(model="exact", replicate=0).notnull().all()
    assert acc.sel(model="exact", replicate=[1, 2]).isnull().all()  # the posterior has one
    f = reprdyn.open(tmp / "r.zarr").features("m", "output")["features"].sel(model="mlp")
    first = f.sel(replicate=0).values
    assert all(np.abs(f.sel(replicate=r).values - first).max() > 1e-3 for r in (1, 2))
    by_model = {r.model: r for r in rows if r.layer == "output" and r.input == "clean"}
    assert by_model["mlp"].replicates == 3 and by_model["exact"].replicates == 1


def test_replicate_zero_of_three_is_the_one_replicate_run(replicated):
    spec, tmp, _ = replicated
    from test_plan import REPLICATED

    from reprdyn.spec import validate_text

    one = validate_text(
        REPLICATED.replace("replicates: 3", "replicates: 1")
        + f"compute: {{cache: {tmp / 'cache'}}}\n"
    )
    calls = []
    reprdyn.run(one, store=tmp / "one.zarr", on_train_step=lambda *a: calls.append(a))
    assert calls == []  # replicate 0 came from the cache
    a = reprdyn.open(tmp / "one.zarr")["m"]["accuracy"]
    b = reprdyn.open(tmp / "r.zarr")["m"]["accuracy"].sel(replicate=[0])
    xrt.assert_identical(a.load(), b.load())


def test_pixel_baseline_is_flat_for_clean_input_and_the_same_in_every_replicate(replicated):
    _, tmp, _ = replicated
    ds = reprdyn.open(tmp / "r.zarr")["m"]
    px = ds["accuracy"].sel(layer="pixels", probe="ridge", model="mlp", drop=True)
    assert (px.sel(input="clean").std("sigma") == 0).all()  # one fit serves every sigma
    xrt.assert_equal(px.sel(replicate=1, drop=True), px.sel(replicate=0, drop=True))
    assert px.sel(input="noisy").notnull().all()
    # exact posterior and trained model see the same clean data: the same baseline (noisy input
    # is each model's own noise)
    xrt.assert_equal(
        px.sel(replicate=0, input="clean", drop=True),
        ds["accuracy"].sel(
            layer="pixels", probe="ridge", model="exact", replicate=0, input="clean", drop=True
        ),
    )


def test_comparisons_are_the_paired_differences(replicated):
    from reprdyn.metrics.uncertainty import interval

    _, tmp, _ = replicated
    ds = reprdyn.open(tmp / "r.zarr")["m"].load()
    best, boot = ds["best_accuracy"], ds["best_accuracy_boot"]
    cn = best.sel(input="clean", drop=True) - best.sel(input="noisy", drop=True)
    xrt.assert_allclose(ds["clean_minus_noisy"], cn.transpose(*ds["clean_minus_noisy"].dims))
    draws = (boot.sel(input="clean", drop=True) - boot.sel(input="noisy", drop=True)).transpose(
        *ds["clean_minus_noisy_boot"].dims
    )
    np.testing.assert_array_equal(ds["clean_minus_noisy_boot"].values, draws.values)
    np.testing.assert_array_equal(
        ds["clean_minus_noisy_ci"].values, interval(draws.values, 0.95), strict=False
    )
    fp = ds["features_minus_pixels"]
    want = best.sel(layer="output", drop=True) - best.sel(layer="pixels", drop=True)
    xrt.assert_allclose(fp.sel(layer="output", drop=True), want.transpose(*want.dims))
    assert fp.sel(layer="pixels").isnull().all()
    rows = __import__("reprdyn.summary", fromlist=["compare"]).compare(str(tmp / "r.zarr"))
    assert {r.comparison for r in rows} == {
        "ensemble_gain",
        "clean_minus_noisy",
        "features_minus_pixels",
    }
