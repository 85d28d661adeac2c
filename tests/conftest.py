"""Shared fixtures: a small MoLRG spec that runs in about a second; the suite's thread count.

The suite runs torch on one thread, deliberately: on a shared 2-core machine a second thread makes
small work several times slower (benchmarks/threads.py), and subprocesses inherit the setting.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before torch starts its pool, here and in every subprocess

import textwrap

import pytest

SMALL = textwrap.dedent("""\
    spec_version: 1
    name: small
    seed: 3
    model: {kind: molrg-optimal}
    datasets:
      - {kind: molrg, name: toy, n: 12, K: 3, d: 2, delta: 0.3, n_train: 300, n_test: 200}
    sigma: {start: 0.05, stop: 5, num: 5, scale: log}
    probes: [{kind: logistic, transform: abs, standardize: false}]
    label_noise: [0.0, 0.4]
    seeds: [0, 1]
    ensemble: {k: 1}
    """)

# a tiny segmentation spec: a U-Net trained for one epoch on two rendered characters (seconds)
SEG_SMALL = textwrap.dedent("""\
    spec_version: 1
    name: seg
    seed: 1
    model:
      kind: diffusion
      network: {kind: unet, channels: 8, mult: [1, 2], blocks: 1}
      precond: {kind: edm, sigma_data: 0.5}
      train: {data: glyphs, epochs: 1, batch_size: 32}
    datasets:
      - {kind: glyphs, name: glyphs, chars: "01", n_train: 40, n_test: 20}
    sigma: [0.1, 1.0]
    dense:
      both: [dec.0, dec.1]
      last: [dec.1]
    inputs: [clean, noisy]
    label_noise: [0, 0.3]
    probes:
      - {kind: seg-linear, lambdas: [0.001, 0.1, 10]}
      - {kind: seg-mlp, epochs: 2, hidden: 16, ensemble: 2, batch_size: 64}
    segmentation: {train_images: 30, test_images: 16, max_pixels: 2000}
    """)


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


@pytest.fixture
def small_store(small_spec, tmp_path):
    from reprdyn import run

    path = tmp_path / "small.zarr"
    run(small_spec, store=path, spec_text=SMALL)
    return path
