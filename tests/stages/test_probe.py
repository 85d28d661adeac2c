"""The probe stage: every probe kind fills every variable; a cell does not depend on the rest of
the grid; the pixel baseline is the probe on the input itself."""

from __future__ import annotations

import numpy as np
import xarray.testing as xrt
from helpers import SMALL

import reprdyn
from reprdyn.spec import validate_text

ALL_PROBES = SMALL.replace(
    "probes: [{kind: logistic, transform: abs, standardize: false}]",
    """probes:
  - {kind: ridge, transform: abs}
  - {kind: ridge, name: ridge-gcv, selection: gcv, transform: abs}
  - {kind: logistic, C: [0.1, 1.0], transform: abs}
  - {kind: bn-linear, epochs: 10, batch_size: 64, lr: 0.01, transform: abs}
  - {kind: mlp, epochs: 10, batch_size: 64, hidden: 16, lr: 0.01, transform: abs}
label_noise_kind: pair
ensemble: {strategy: top, m: 2}""",
).replace("ensemble: {k: 1}\n", "")


def test_every_probe_kind_fills_every_variable(tmp_path):
    spec = validate_text(ALL_PROBES)
    rows = reprdyn.run(spec, store=tmp_path / "p.zarr")
    ds = reprdyn.open(tmp_path / "p.zarr")["toy"]
    assert list(ds.probe.values) == ["ridge", "ridge-gcv", "logistic", "bn-linear", "mlp"]
    for v in (
        "accuracy",
        "val_accuracy",
        "class_accuracy",
        "best_sigma",
        "best_accuracy",
        "ensemble_accuracy",
        "ensemble_members",
    ):
        assert ds[v].notnull().all(), v
    # vectorised pick of each probe's best sigma
    at_best = ds["accuracy"].sel(sigma=ds["best_sigma"])
    xrt.assert_allclose(at_best.drop_vars("sigma"), ds["best_accuracy"])
    assert ds.sizes["member"] == 2 and len(rows) == 5
    assert all(r.best_accuracy.value > 0.5 for r in rows)  # chance is 1/3 (MoLRG needs |features|)


GRID = SMALL.replace(
    "probes: [{kind: logistic, transform: abs, standardize: false}]",
    """probes:
  - {kind: ridge, transform: abs}
  - {kind: logistic, C: [0.1, 1.0], transform: abs}
  - {kind: bn-linear, epochs: 8, batch_size: 64, lr: 0.01, transform: abs}
  - {kind: mlp, epochs: 8, batch_size: 64, hidden: 16, lr: 0.01, transform: abs}
inputs: [clean, noisy]
noise_draws: 2""",
)


def test_a_cell_does_not_depend_on_the_rest_of_the_grid(tmp_path):
    """The cell (sigma, label_noise=0, seed=0) of every probe kind, fitted alone and inside a grid
    with more sigmas, label-noise levels and seeds, gives identical features, validation and test
    accuracy. Bit-equality is sound: the cell's matrix products have its own shapes in both grids
    (tests/probes/test_base.py checks the logits themselves)."""
    alone = validate_text(
        GRID.replace("sigma: {start: 0.05, stop: 5, num: 5, scale: log}", "sigma: [0.5]")
        .replace("label_noise: [0.0, 0.4]", "label_noise: [0.0]")
        .replace("seeds: [0, 1]", "seeds: [0]")
    )
    grid = validate_text(
        GRID.replace(
            "sigma: {start: 0.05, stop: 5, num: 5, scale: log}", "sigma: [0.1, 0.5, 2]"
        ).replace("seeds: [0, 1]", "seeds: [3, 0]")
    )
    reprdyn.run(alone, store=tmp_path / "alone.zarr")
    reprdyn.run(grid, store=tmp_path / "grid.zarr")
    a, b = reprdyn.open(tmp_path / "alone.zarr"), reprdyn.open(tmp_path / "grid.zarr")
    cell = dict(sigma=0.5, label_noise=0.0, seed=0)
    for v in ("accuracy", "val_accuracy", "class_accuracy"):
        xrt.assert_identical(a["toy"][v].sel(cell).load(), b["toy"][v].sel(cell).load())
    # noisy inputs: the noise is keyed by the sigma's value, not its place in the grid
    xrt.assert_identical(
        a.features("toy", "output")["features"].sel(sigma=0.5).load(),
        b.features("toy", "output")["features"].sel(sigma=0.5).load(),
    )


IDENTITY = """\
import torch

class Identity(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Linear(1, 1)

    def forward(self, x, sigma):
        return x  # what the network receives is its output: the `output` layer is the input

def make():
    return Identity()
"""


def test_pixel_baseline_equals_probing_the_input_itself(tmp_path):
    """A model whose output is its input: probing `output` is probing the raw input the network
    received, so it must match the `pixels` baseline at every sigma, clean and noisy (to within one
    test sample: `output` passes through float32, the baseline stays float64)."""
    (tmp_path / "ident.py").write_text(IDENTITY)
    text = SMALL.replace(
        "model: {kind: molrg-optimal}", "model: {kind: python, file: ident.py, factory: make}"
    ).replace(
        "probes: [{kind: logistic, transform: abs, standardize: false}]",
        "probes: [{kind: ridge}]\nlayers: [output, pixels]\ninputs: [clean, noisy]\nnoise_draws: 2",
    )
    (tmp_path / "s.yaml").write_text("trust_code: true\n" + text)
    spec = reprdyn.load_spec(tmp_path / "s.yaml", trust_code=True)
    reprdyn.run(spec, store=tmp_path / "s.zarr")
    acc = reprdyn.open(tmp_path / "s.zarr")["toy"]["accuracy"].squeeze("probe")
    diff = np.abs(acc.sel(layer="output") - acc.sel(layer="pixels")).max()
    assert float(diff) <= 1 / 200 + 1e-12  # 200 test samples


def test_the_attentive_probe_reads_the_tokens_whose_mean_is_the_pooled_feature(tmp_path):

    from reprdyn.runner.context import Context
    from reprdyn.stages.probe import Params, _tokens

    text = (
        "spec_version: 1\nname: att\nmodel:\n  kind: diffusion\n"
        "  network: {kind: unet, channels: 4, mult: [1, 2], blocks: 1}\n"
        "  precond: {kind: edm, sigma_data: 0.5}\n  train: {data: g, epochs: 1, batch_size: 32}\n"
        'datasets:\n  - {kind: glyphs, name: g, chars: "012", n_train: 60, n_test: 30}\n'
        "sigma: [0.1, 1.0]\nlayers: [enc.1]\ninputs: [clean, noisy]\n"
        "probes: [{kind: attentive, epochs: 2, batch_size: 30, heads: 1, head_dim: 4}]\n"
    )
    spec = validate_text(text, overrides=[f"compute.cache={tmp_path / 'cache'}"])
    reprdyn.run(spec, store=tmp_path / "a.zarr")
    ds = reprdyn.open(tmp_path / "a.zarr")["g"]
    assert ds["accuracy_ci"].notnull().all() and ds["best_accuracy"].notnull().all()
    ctx = Context.create(spec)
    feats = reprdyn.open(tmp_path / "a.zarr").features("g", "enc.1")["features"]
    for inp in ("clean", "noisy"):
        tokens = _tokens(ctx, "g", Params("", 0, "enc.1", inp, "attentive"))  # (S, N, L, C)
        pooled = feats.sel(input=inp, replicate=0).values  # (S, N, C)
        np.testing.assert_allclose(tokens.mean(2), pooled, rtol=1e-5, atol=1e-6)
