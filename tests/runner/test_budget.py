"""Preflight estimates: the feature store size against a real store, activations on a known
network, limits."""

from __future__ import annotations

import numpy as np
import torch
import zarr
from helpers import SMALL, TOY_MLP
from typer.testing import CliRunner

import reprdyn
from reprdyn.cli import app
from reprdyn.compute.extract import activation_bytes
from reprdyn.runner.budget import estimate
from reprdyn.runner.context import Context
from reprdyn.spec import validate_text


def test_store_estimate_equals_the_feature_cubes_written(tmp_path):
    spec = validate_text(TOY_MLP)
    est = estimate(Context.create(spec), "toy")
    reprdyn.run(spec, store=tmp_path / "b.zarr")
    written = 0
    for layer in spec.layers:
        a = zarr.open_array(
            str(tmp_path / f"b.zarr/datasets/toy/features/{layer}/features"), mode="r"
        )
        written += int(np.prod(a.shape)) * a.dtype.itemsize
    assert est.store_bytes == written == 3 * 2 * 150 * (32 + 32 + 12) * 4
    assert est.weight_bytes > 0 and est.data_bytes == 150 * 12 * 8  # molrg samples are float64


class Stack(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(10, 40), torch.nn.Linear(40, 5)

    def forward(self, x, sigma):
        return self.b(self.a(x))


def test_activation_bytes_on_a_known_network():
    # top-level blocks return 40 + 5 floats; the largest leaf output is 40 floats
    assert activation_bytes(Stack(), torch.zeros(4, 10), 1.0) == (40 + 5) * 4 + 2 * 40 * 4


def test_limits_refuse_before_anything_is_written(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL + "compute: {max_store_gb: 0.000001}\n")
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(tmp_path / "s.zarr")])
    assert (
        r.exit_code == 2
        and "over compute.max_store_gb = 1e-06" in r.stderr
        and "Traceback" not in r.stderr
    )
    assert not (tmp_path / "s.zarr").exists()
    spec.write_text(SMALL + "compute: {max_memory_gb: 0.000001}\n")
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(tmp_path / "s.zarr")])
    assert (
        r.exit_code == 2 and "peak memory would be" in r.stderr and "use fewer samples" in r.stderr
    )
    spec.write_text(SMALL + "compute: {max_store_gb: 1, max_memory_gb: 4}\n")
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(tmp_path / "s.zarr")])
    assert r.exit_code == 0 and "estimate toy: 500 samples; feature store ~" in r.stderr


def test_ridge_term_is_the_gram_matrix_ridge_factorises(tmp_path, monkeypatch):
    """With fewer train samples than channels, ridge still forms and factorises the C x C Gram
    matrix per sigma; the estimate counts that matrix and its eigenvectors, not an n x n one."""
    spec = validate_text(
        TOY_MLP.replace("width: 32", "width: 256")
        .replace("n_train: 100", "n_train: 40")
        .replace("layers: [fc1, fc2, output]", "layers: [fc2]\nprobes: [{kind: ridge}]")
    )
    est = estimate(Context.create(spec), "toy")
    factorised = []
    real = torch.linalg.eigh
    monkeypatch.setattr(torch.linalg, "eigh", lambda A: (factorised.append(A), real(A))[1])
    reprdyn.run(spec, store=tmp_path / "r.zarr")
    S, C, n, n_train = 3, 256, 40 + 50, 40
    assert {tuple(A.shape) for A in factorised} == {(S, C, C)}  # C x C although n_train = 40 < C
    gram = factorised[0].numel() * factorised[0].element_size()
    # the Gram matrix and V
    assert est.probe_bytes == S * n * C * 4 + S * n_train * C * 8 + 2 * gram


def test_layer_checks_never_build_real_weights():
    """The widest MLP a spec may name is checked on the meta device: no memory, no time."""
    import time

    t = time.perf_counter()
    validate_text(TOY_MLP.replace("width: 32", "width: 65536"))
    assert time.perf_counter() - t < 10


def test_a_joint_probe_counts_every_cell_and_concat_its_gram_matrix():
    base = TOY_MLP  # 150 samples, three sigmas, layers fc1 (32), fc2 (32), output (12)
    plain = estimate(Context.create(validate_text(base)), "toy").probe_bytes
    spec = validate_text(base + "probes: [{kind: ridge}, {kind: concat, layers: [fc1, fc2]}]\n")
    D = 3 * (32 + 32)  # every layer it reads, at every sigma, side by side
    got = estimate(Context.create(spec), "toy").probe_bytes
    assert got == max(plain, 2 * 150 * D * 8 + 2 * D * D * 8)
