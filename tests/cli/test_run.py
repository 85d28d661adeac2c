"""`reprdyn run` through Typer's CliRunner and as a process: the summary, refusals, `--set`, a
copied spec folder, SIGTERM."""

from __future__ import annotations

import json

import pytest
from helpers import SMALL, invoke


def test_run_plan_ls_query(small_spec_file, tmp_path):
    store = tmp_path / "s.zarr"
    r = invoke("plan", small_spec_file, "--store", store)
    assert r.exit_code == 0 and "pending" in r.stdout and "done" not in r.stdout
    assert "model=" not in r.stdout  # a single-model spec has no model to name
    r = invoke("run", small_spec_file, "--store", store)
    assert r.exit_code == 0, r.output
    assert "σ* (val)" in r.stdout and f"reprdyn query {store} accuracy" in r.stdout
    assert "[low, high]: the 95% interval" in r.stdout  # text, never read as Rich markup
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
    # the checkpoint cache, like the store, is the runner's to name: the header shows the grant
    assert f"--set compute.cache={dst / 'ckpt'}" in r.stdout
    again = invoke(
        "run", "again.yaml", "--store", "again.zarr", "--set", f"compute.cache={dst / 'ckpt'}"
    )
    assert again.exit_code == 0, again.stderr
    xrt.assert_identical(res["toy"].load(), reprdyn.open(tmp_path / "again.zarr")["toy"].load())


@pytest.mark.slow  # signals to a subprocess run
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


@pytest.mark.slow  # signals to a subprocess run
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


def test_stderr_has_one_log_format_and_stdout_only_json(small_spec_file, tmp_path):
    """As a process with both streams piped: every stderr line is `HH:MM:SS message` (no Rich
    date, no markup), and `--format json` leaves only one JSON object on stdout."""
    import json
    import re
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "reprdyn", "run", str(small_spec_file)]
    cmd += ["--store", str(tmp_path / "s.zarr"), "--format", "json"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    lines = r.stderr.strip().splitlines()
    assert lines and all(re.match(r"\d\d:\d\d:\d\d \S", line) for line in lines), lines[:3]
    assert json.loads(r.stdout)["summary"][0]["probe"] == "logistic"


def test_json_carries_every_rows_label_noise_and_the_gains_per_level(tmp_path):
    from helpers import molrg_spec

    spec = tmp_path / "s.yaml"
    spec.write_text(molrg_spec(sigma="[0.1, 0.5, 2.0]", rest="label_noise: [0.0, 0.4]\n"))
    r = invoke("run", spec, "--store", tmp_path / "s.zarr", "--format", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert {row["label_noise"] for row in out["summary"]} == {0.0}  # the headline's level, named
    assert sorted({row["label_noise"] for row in out["gains"]}) == [0.0, 0.4]  # Table 1
    assert all(row["label_noise"] == 0.0 for row in out["comparisons"])
