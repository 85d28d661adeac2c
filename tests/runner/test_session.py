"""End to end: determinism, resume, interruption, the shipped theory spec, trained models."""

from __future__ import annotations

import numpy as np
import pytest
import xarray.testing as xrt
from helpers import trained_spec

import reprdyn
from reprdyn import store as st
from reprdyn.plan import plan
from reprdyn.runner import Hooks, RunOptions, plan_status


def test_two_runs_give_identical_cubes(small_spec, small_store, tmp_path):
    other = tmp_path / "again.zarr"
    reprdyn.run(small_spec, store=other)
    a, b = reprdyn.open(small_store), reprdyn.open(other)
    xrt.assert_identical(a["toy"].load(), b["toy"].load())
    xrt.assert_identical(a.features("toy", "output").load(), b.features("toy", "output").load())


def test_resume_skips_done_tasks_and_force_reruns(small_spec, small_store_copy):
    assert {s for _, s in plan_status(small_spec, small_store_copy)} == {"done"}
    seen = []
    reprdyn.run(
        small_spec, store=small_store_copy, options=RunOptions(hooks=Hooks(start=seen.append))
    )
    assert seen == []
    before = reprdyn.open(small_store_copy)["toy"].load()
    reprdyn.run(
        small_spec,
        store=small_store_copy,
        options=RunOptions(force=True, hooks=Hooks(start=seen.append)),
    )
    assert len(seen) == len(plan(small_spec))
    xrt.assert_identical(before, reprdyn.open(small_store_copy)["toy"].load())


def test_interrupted_run_resumes_to_the_same_cube(small_spec, small_store, tmp_path):
    path = tmp_path / "cut.zarr"
    tasks = plan(small_spec)

    def stop_after_features(task):
        if task.stage == "theory":
            raise KeyboardInterrupt

    try:
        reprdyn.run(
            small_spec, store=path, options=RunOptions(hooks=Hooks(start=stop_after_features))
        )
    except KeyboardInterrupt:
        pass
    assert len(st.done_keys(path)) == 6 < len(tasks)
    reprdyn.run(small_spec, store=path)
    xrt.assert_identical(reprdyn.open(small_store)["toy"].load(), reprdyn.open(path)["toy"].load())


def test_shipped_theory_spec_is_unimodal(theory_store, theory_rows):
    (row,) = theory_rows
    assert row.unimodal == "yes" and 0.2 < row.best_sigma < 2 and row.best_accuracy.value > 0.9
    assert row.best_accuracy.low < row.best_accuracy.value < row.best_accuracy.high
    assert 0.2 < row.csnr_peak_sigma < 2  # an interior CSNR peak
    ds = reprdyn.open(theory_store)["molrg"]
    acc = ds["accuracy"].squeeze()
    # docs/theory.md §5 probe column: ~0.70 at the clean end, ~0.93 at the peak, falling at large
    # sigma
    assert abs(float(acc.isel(sigma=0)) - 0.70) < 0.05
    assert float(acc.isel(sigma=-1)) < 0.5


MLP_SPEC = (
    trained_spec(
        "mlp",
        width=64,
        train="epochs: 3, batch_size: 64",
        n_train=300,
        n_test=200,
        grid="timesteps: [1, 50, 150, 300]",
        rest="layers: [fc2, output]\n",
    )
    + """\
probes:
  - {kind: logistic, name: linear, layers: [fc2]}
  - {kind: logistic, name: posterior, layers: [output], transform: abs, standardize: false}
metrics: [accuracy, class_accuracy, csnr]
"""
)


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


@pytest.mark.slow  # a subprocess run and a U-Net: seconds
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
    import torch

    from reprdyn.compute.extract import extract
    from reprdyn.compute.train import ensure_trained
    from reprdyn.data import build_dataset

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


@pytest.mark.slow  # a subprocess run and a U-Net: seconds
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
    reprdyn.run(small_spec, store=path, options=RunOptions(hooks=Hooks(start=ran.append)))
    assert [t.key for t in ran] == [keys[2], *probe]
    xrt.assert_identical(
        reprdyn.open(small_store).features("toy", "output").load(),
        reprdyn.open(path).features("toy", "output").load(),
    )


PATTERNED = MLP_SPEC.replace("epochs: 3", "steps: 20").replace(
    "timesteps: [1, 50, 150, 300]", "timesteps: [50, 300]"
)


def test_layer_patterns_run_as_the_layers_they_expand_to(tmp_path, monkeypatch):
    """`fc?` is expanded against the network before planning: the store is the explicit spec's
    (same identity, same cube), keeps the text as written and the expanded layers as resolved."""
    from helpers import invoke

    from reprdyn.spec import validate_text

    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    text = PATTERNED.replace("layers: [fc2, output]", "layers: ['fc?', output]")
    text = text.replace("layers: [fc2]}", "layers: ['fc*']}")
    (tmp_path / "p.yaml").write_text(text)
    r = invoke("run", tmp_path / "p.yaml", "--store", tmp_path / "p.zarr")
    assert r.exit_code == 0, r.stderr
    explicit = validate_text(
        PATTERNED.replace("layers: [fc2, output]", "layers: [fc1, fc2, output]").replace(
            "layers: [fc2]}", "layers: [fc1, fc2]}"
        )
    )
    assert {s for _, s in plan_status(explicit, tmp_path / "p.zarr")} == {"done"}
    reprdyn.run(explicit, store=tmp_path / "e.zarr")
    got = reprdyn.open(tmp_path / "p.zarr")
    assert list(got["m"].layer.values) == ["fc1", "fc2", "output"]
    xrt.assert_identical(got["m"].load(), reprdyn.open(tmp_path / "e.zarr")["m"].load())
    attrs = st.read_attrs(tmp_path / "p.zarr")
    assert attrs["spec_resolved"]["layers"] == ["fc1", "fc2", "output"]
    assert "'fc?'" in attrs["spec"]  # the spec as written
    # a pattern that matches nothing: at its place in the file, before any store exists
    bad = text.replace("'fc?'", "'enc.*'").replace(", layers: ['fc*']", "")
    (tmp_path / "bad.yaml").write_text(bad)
    r = invoke("run", tmp_path / "bad.yaml", "--store", tmp_path / "bad.zarr")
    assert r.exit_code == 2 and not (tmp_path / "bad.zarr").exists()
    assert "bad.yaml:11:10: layers[0]: layer pattern 'enc.*' matches no layer" in r.stderr
