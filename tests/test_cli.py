"""Every command through Typer's CliRunner: output, exit codes, no tracebacks."""

from __future__ import annotations

import json

import pytest
from conftest import SMALL
from typer.testing import CliRunner

from reprdyn.cli import app

runner = CliRunner()


def invoke(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    return r


def test_validate_ok_and_errors(small_spec_file, tmp_path):
    assert invoke("validate", small_spec_file).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(small_spec_file.read_text().replace("K: 3", "K: x") + "sigmas: [1]\n")
    r = invoke("validate", small_spec_file, bad)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert any(line.startswith(f"{bad}:6:") and "datasets[0].K" in line for line in lines)
    assert any("unknown key 'sigmas'; did you mean 'sigma'?" in line for line in lines)


def test_schema():
    r = invoke("schema")
    schema = json.loads(r.stdout)
    assert r.exit_code == 0 and schema["title"] == "reprdyn spec"
    assert schema["$schema"].endswith("2020-12/schema")


def test_run_plan_ls_query(small_spec_file, tmp_path):
    store = tmp_path / "s.zarr"
    r = invoke("plan", small_spec_file, "--store", store)
    assert r.exit_code == 0 and "pending" in r.stdout and "done" not in r.stdout
    assert "model=" not in r.stdout  # a single-model spec has no model to name
    r = invoke("run", small_spec_file, "--store", store)
    assert r.exit_code == 0, r.output
    assert "σ* (val)" in r.stdout and f"reprdyn query {store} accuracy" in r.stdout
    assert "8 task(s) to run: 1 data, 5 features, 1 theory, 1 probe" in r.stderr  # totals up front
    assert "pending" not in invoke("plan", small_spec_file, "--store", store).stdout
    r = invoke("ls", store)
    assert r.exit_code == 0 and "csnr_theory" in r.stdout and "features/output" in r.stdout
    r = invoke(
        "query", store, "accuracy", "--sel", "sigma=0.5", "--mean", "seed", "--format", "csv"
    )
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    head = "dataset,replicate,sigma,layer,label_noise,probe,input,accuracy"
    assert lines[0] == head and len(lines) == 3
    r = invoke("query", store, "csnr", "--format", "json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 5 * 3  # sigma x class
    r = invoke("query", store, "csnr_theory")
    assert r.exit_code == 0 and "csnr_theory" in r.stdout


def test_layers(small_spec_file):
    r = invoke("layers", small_spec_file)
    assert r.exit_code == 0 and "output" in r.stdout and "(B, 12)" in r.stdout


@pytest.mark.parametrize(
    "args, match",
    [
        (("query", "{store}", "nope"), "unknown variable 'nope'"),
        (("query", "{store}", "accuracy", "--format", "xml"), "'xml' is not one of"),
        (("ls", "{tmp}/missing.zarr"), "not a reprdyn store"),
        (("run", "{tmp}/missing.yaml"), "cannot read spec"),
    ],
)
def test_user_errors_exit_2(small_store, tmp_path, args, match):
    r = invoke(*[a.format(store=small_store, tmp=tmp_path) for a in args])
    assert r.exit_code == 2 and match in r.stderr


def test_run_refuses_other_spec_and_foreign_folder(small_spec_file, small_store, tmp_path):
    changed = tmp_path / "changed.yaml"
    changed.write_text(small_spec_file.read_text().replace("delta: 0.3", "delta: 0.35"))
    r = invoke("run", changed, "--store", small_store)
    assert r.exit_code == 2 and "datasets[0].delta: 0.3 -> 0.35" in r.stderr
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "draft.txt").write_text("x")
    r = invoke("run", small_spec_file, "--store", folder)
    assert (
        r.exit_code == 2 and "not a reprdyn store" in r.stderr and (folder / "draft.txt").exists()
    )


def test_train_and_layers_for_a_trained_model(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "mlp.yaml"
    spec.write_text("""spec_version: 1
name: t
model:
  kind: diffusion
  network: {kind: mlp, width: 32}
  precond: {kind: vp}
  train: {data: m, steps: 5}
datasets: [{kind: molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 60, n_test: 20}]
timesteps: [1, 100]
layers: [fc2]
""")
    r = invoke("layers", spec)
    assert (
        r.exit_code == 0 and "fc2" in r.stdout and "(32,)" in r.stdout and "embed.mlp" in r.stdout
    )
    r = invoke("train", spec)
    assert r.exit_code == 0 and "trained" in r.stdout and ".pt" in r.stdout
    r = invoke("train", spec)
    assert r.exit_code == 0 and "cached" in r.stdout
    r = invoke("train", tmp_path.parent / "nothing.yaml")
    assert r.exit_code == 2


def test_status_json_and_failures(small_spec_file, small_store, tmp_path, monkeypatch):
    r = invoke("status", small_store)
    assert r.exit_code == 0 and "8 done, 0 pending, 0 failed" in r.stdout
    rows = json.loads(invoke("status", small_store, "--format", "json").stdout)
    assert {row["status"] for row in rows} == {"done"}
    r = invoke("run", small_spec_file, "--store", small_store, "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)  # stdout holds only JSON
    assert doc["failed"] == [] and doc["summary"][0]["dataset"] == "toy"
    import reprdyn.stages.theory as theory

    def broken(task, ctx, io):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(theory, "run", broken)
    store = tmp_path / "f.zarr"
    r = invoke("run", small_spec_file, "--store", store)
    assert r.exit_code == 1 and "failed: theory toy: RuntimeError: disk on fire" in r.stderr
    r = invoke("status", store)
    assert "7 done, 0 pending, 1 failed" in r.stdout and "disk on fire" in r.stdout
    monkeypatch.undo()
    assert invoke("run", small_spec_file, "--store", store).exit_code == 0  # a re-run retries it
    assert "8 done" in invoke("status", store).stdout


def test_spec_from_store_reruns_to_the_same_cube(small_store, tmp_path):
    """The README's recipe as written: `reprdyn spec S > x.yaml && reprdyn run x.yaml` resumes S (it
    names S as its store, whatever store the spec file named), and `--store` elsewhere reproduces
    it."""
    import xarray.testing as xrt

    import reprdyn

    r = invoke("spec", small_store)
    assert f"store: {small_store.resolve()}" in r.stdout
    x = tmp_path / "x.yaml"
    x.write_text(r.stdout)
    resumed = invoke("run", x)
    assert resumed.exit_code == 0 and str(small_store.resolve()) in resumed.stdout, resumed.stderr
    assert r.exit_code == 0 and r.stdout.startswith("# resolved spec of")
    again = tmp_path / "again.yaml"
    again.write_text(r.stdout)
    from reprdyn.spec import load_spec, spec_hash

    assert spec_hash(load_spec(again)) == reprdyn.open(small_store).attrs["spec_hash"]
    assert invoke("run", again, "--store", tmp_path / "again.zarr").exit_code == 0
    xrt.assert_identical(
        reprdyn.open(small_store)["toy"].load(), reprdyn.open(tmp_path / "again.zarr")["toy"].load()
    )
    r = invoke("diff", small_store, tmp_path / "again.zarr")
    assert r.exit_code == 0 and "no differences" in r.stdout
    d = json.loads(invoke("diff", small_store, tmp_path / "again.zarr", "--format", "json").stdout)
    assert d["fields"] == [] and all(m["max_abs_diff"] == 0 for m in d["metrics"]) and d["metrics"]


def test_diff_specs(small_spec_file, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(
        small_spec_file.read_text()
        .replace("delta: 0.3", "delta: 0.25")
        .replace("seeds: [0, 1]", "seeds: [0]")
    )
    r = invoke("diff", small_spec_file, other)
    assert r.exit_code == 0
    assert "datasets[0].delta: 0.3 -> 0.25" in r.stdout and "seeds: [0, 1] -> [0]" in r.stdout
    assert invoke("diff", small_spec_file, tmp_path / "missing.yaml").exit_code == 2


def test_ls_folder_catalog(small_store, tmp_path):
    r = invoke("ls", small_store.parent, "--format", "json")
    assert r.exit_code == 0
    (row,) = [x for x in json.loads(r.stdout) if x["store"] == str(small_store)]
    assert row["name"] == "small" and row["status"] == "complete" and row["size_bytes"] > 0
    assert (
        0.3 < row["best"]["test_accuracy"] <= 1
        and row["best"]["what"] == "toy/output/clean/logistic"
    )
    r = invoke("ls", small_store.parent)
    assert r.exit_code == 0 and "complete" in r.stdout


def test_run_with_set_overrides(small_spec_file, tmp_path):
    import reprdyn

    store = tmp_path / "o.zarr"
    r = invoke(
        "run", small_spec_file, "--store", store, "--set", "label_noise=[0.2]", "--set", "seeds=[5]"
    )
    assert r.exit_code == 0, r.stderr
    res = reprdyn.open(store)
    assert list(res["toy"].label_noise.values) == [0.2] and list(res["toy"].seed.values) == [5]
    assert "# --set label_noise=[0.2]" in res.attrs["spec"]
    r = invoke("validate", small_spec_file, "--set", "ensemble.k=-1")
    assert r.exit_code == 2 and r.stderr.startswith("--set ensemble.k=-1:1:1: ensemble.k:")
    r = invoke("plan", small_spec_file, "--set", "seeds=[1]", "--store", store)
    assert r.exit_code == 0


def test_init_command(tmp_path):
    r = invoke("init", "--list")
    assert r.exit_code == 0 and "digits-unet" in r.stdout
    target = tmp_path / "mine.yaml"
    r = invoke("init", "--template", "molrg-mlp", target)
    assert r.exit_code == 0 and f"wrote {target}" in r.stderr
    assert invoke("validate", target).exit_code == 0
    r = invoke("init", "--template", "molrg-mlp", target)
    assert r.exit_code == 2 and "already exists" in r.stderr
    assert invoke("init", "-t", "nope", tmp_path / "x.yaml").exit_code == 2


NPZ_SPEC = """\
extends: base.yaml
name: copied
datasets:
  - {kind: npz, name: toy, path: data/toy.npz}
"""
NPZ_BASE = """\
spec_version: 1
model:
  kind: dae
  network: {kind: mlp, width: 16}
  precond: {kind: edm}
  train: {data: toy, epochs: 2, batch_size: 32}
  train_sigma: 0.5
sigma: [0.1, 1.0]
layers: [fc1]
store: runs/out.zarr
compute: {cache: ckpt}
"""


def test_a_copied_spec_folder_with_relative_data_still_runs(tmp_path, monkeypatch):
    import shutil

    import numpy as np
    import xarray.testing as xrt

    import reprdyn

    src = tmp_path / "alice"
    (src / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    np.savez(
        src / "data/toy.npz", x=(rng.normal(size=(60, 6)) + y[:, None]).astype(np.float32), y=y
    )
    (src / "spec.yaml").write_text(NPZ_SPEC)
    (src / "base.yaml").write_text(NPZ_BASE)
    dst = tmp_path / "bob" / "copy"
    shutil.copytree(src, dst)
    shutil.rmtree(src)  # nothing may point back into Alice's folder
    monkeypatch.chdir(tmp_path)  # run from elsewhere
    r = invoke("run", "bob/copy/spec.yaml")
    assert r.exit_code == 0, r.stderr
    store = dst / "runs/out.zarr"  # the store path resolved against the spec's folder
    res = reprdyn.open(store)
    assert (dst / "ckpt").is_dir() and res.attrs["spec"] == NPZ_SPEC
    # the bases, as written
    assert res.attrs["spec_bases"] == {"bob/copy/base.yaml": NPZ_BASE}
    assert res.attrs["spec_resolved"]["datasets"][0]["path"] == str(dst / "data/toy.npz")
    r = invoke("spec", store)
    (tmp_path / "again.yaml").write_text(r.stdout)
    assert invoke("run", "again.yaml", "--store", "again.zarr").exit_code == 0
    xrt.assert_identical(res["toy"].load(), reprdyn.open(tmp_path / "again.zarr")["toy"].load())


def test_progress_bars_know_their_totals():
    """On a terminal each stage's bar is created with its number of tasks (sweep points add theirs),
    so the bar shows n/N and an ETA."""
    from reprdyn.cli.output import Reporter, progress_bars
    from reprdyn.plan import Task

    rep = Reporter()
    rep.live, rep.progress = True, progress_bars()
    rep.plan([Task("features", "d", key=str(i)) for i in range(5)] + [Task("probe", "d", key="p")])
    rep.plan([Task("features", "d", key="x")])
    totals = {t.description: t.total for t in rep.progress.tasks}
    assert totals == {"features": 6, "probe": 1}
    rep.done(Task("features", "d", key="0"))
    assert rep.progress.tasks[rep.bars["features"]].completed == 1


def test_sigterm_ends_a_run_like_ctrl_c(tmp_path):
    """SIGTERM mid-run: exit 143 with a message, finished tasks kept, the lock released, and the
    next run resumes to the same cube as an uninterrupted one."""
    import signal
    import subprocess
    import sys
    import time

    from reprdyn import store as st

    spec = tmp_path / "t.yaml"
    spec.write_text(SMALL.replace("num: 5", "num: 40").replace("n_train: 300", "n_train: 3000"))
    path = tmp_path / "t.zarr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprdyn", "run", str(spec), "--store", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and len(st.done_keys(path)) < 3 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "terminated (SIGTERM); finished tasks are kept in the store" in stderr
    assert "Traceback" not in stderr, stderr
    assert len(st.done_keys(path)) >= 3
    assert invoke("run", spec, "--store", path).exit_code == 0  # the lock was let go; it resumes


STUCK = """\
import time
import torch

class Stuck(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(12, 12)

    def forward(self, x, sigma):
        if float(sigma) > 1:  # one task never reaches a safe point
            time.sleep(120)
        return self.proj(x)

def make():
    return Stuck()
"""


def test_a_run_stuck_inside_a_task_still_ends_on_sigterm(tmp_path):
    """A task that never returns to a safe point (a long allocation, a stuck read): SIGTERM ends
    the run after the grace period, with exit 143, and what finished stays."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from reprdyn import store as st

    (tmp_path / "stuck.py").write_text(STUCK)
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "trust_code: true\n"
        + SMALL.replace(
            "model: {kind: molrg-optimal}", "model: {kind: python, file: stuck.py, factory: make}"
        ).replace("probes: [{kind: logistic, transform: abs, standardize: false}]", "")
    )
    path = tmp_path / "t.zarr"
    env = {**os.environ, "REPRDYN_STOP_GRACE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprdyn", "run", str(spec), "--store", str(path), "--trust-code"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = time.time() + 60
    while time.time() < deadline and len(st.done_keys(path)) < 3 and proc.poll() is None:
        time.sleep(0.05)  # data and the features of the sigmas <= 1 are done; then it hangs
    time.sleep(0.5)
    t = time.time()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143 and time.time() - t < 10, stderr
    assert "terminated (SIGTERM) outside a safe point" in stderr and "Traceback" not in stderr
    assert len(st.done_keys(path)) >= 3
