"""Task functions: the probe protocol (splits, label noise, selection, evaluation) and leakage."""

from __future__ import annotations

import numpy as np
import pytest
import xarray.testing as xrt
from conftest import SMALL

import reprdyn
from reprdyn.probes.protocol import choose, evaluate, noisy_labels, val_split
from reprdyn.seeds import derive_seed
from reprdyn.spec import validate_text


def test_val_split_is_fixed_and_stratified(small_spec):
    y = np.repeat(np.arange(3), 100)
    fit, hold = val_split(small_spec, "toy", y)
    again = val_split(small_spec, "toy", y)
    np.testing.assert_array_equal(fit, again[0])
    assert len(hold) == 60 and np.all(np.bincount(y[hold]) == 20)
    assert not set(fit) & set(hold)


def test_noisy_labels_grid(small_spec):
    y = np.random.default_rng(0).integers(0, 3, 300)
    Y = noisy_labels(small_spec, "toy", y, 3)  # label_noise [0, 0.4] x seeds [0, 1]
    assert Y.shape == (4, 300)
    np.testing.assert_array_equal(Y[0], y)
    np.testing.assert_array_equal(Y[1], y)
    assert (Y[2] != y).sum() == 120 and (Y[3] != y).sum() == 120 and not np.array_equal(Y[2], Y[3])


def test_choose_and_evaluate():
    val = np.array([[0.2, 0.9], [0.8, 0.1], [0.5, 0.3]])  # (S, T)
    from reprdyn.spec.probes import Ensemble

    best, members = choose(val, Ensemble(k=1))
    assert best.tolist() == [1, 0] and [m.tolist() for m in members] == [[0, 1, 2], [0, 1]]
    logits = np.zeros((3, 2, 4, 2))
    logits[1, 0, :, 1] = 1  # sigma 1 says class 1 for everything
    acc, cls, ens = evaluate(logits, np.array([1, 1, 0, 0]), best, members, 2)
    assert acc[1, 0] == 0.5 and cls[1, 0].tolist() == [0.0, 1.0] and ens[0] == 0.5


def test_selection_never_reads_test_labels(small_spec, tmp_path, monkeypatch):
    """Shuffle the test labels: selection (val accuracy, best sigma, members) must not move."""
    from reprdyn.caches import DataCache

    reprdyn.run(small_spec, store=tmp_path / "a.zarr")
    real = DataCache.get

    def shuffled(self, name):
        d = real(self, name)
        test = d.split == "test"
        d.y[test] = np.random.default_rng(9).permutation(d.y[test])
        return d

    monkeypatch.setattr(DataCache, "get", shuffled)
    reprdyn.run(small_spec, store=tmp_path / "b.zarr")
    a, b = (
        reprdyn.open(tmp_path / "a.zarr")["toy"].load(),
        reprdyn.open(tmp_path / "b.zarr")["toy"].load(),
    )
    for v in ("val_accuracy", "best_sigma", "ensemble_members"):
        xrt.assert_identical(a[v], b[v])
    assert not a["accuracy"].equals(b["accuracy"])  # the test numbers did change


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


def test_derive_seed_is_stable():
    assert (
        derive_seed(0, "toy", "val") == derive_seed(0, "toy", "val") != derive_seed(1, "toy", "val")
    )
    assert derive_seed(-1, 0.5) >= 0


def test_out_of_memory_mid_stream_splits_the_passes_and_keeps_the_noise(
    tmp_path, monkeypatch, caplog
):
    """A simulated out-of-memory error after some blocks: the retry runs 32 samples per pass, and
    every sample's noise, hence its features, are those of an uninterrupted run."""
    import logging

    import torch

    import reprdyn.extract as tasks

    # the CLI's own handler may be set
    monkeypatch.setattr(logging.getLogger("reprdyn"), "propagate", True)
    spec = validate_text(SMALL + "inputs: [clean, noisy]\nnoise_draws: 3\n")
    reprdyn.run(spec, store=tmp_path / "plain.zarr")
    real = tasks.iter_features

    def picky(net, x0, sigma, layers, *, rows, **kw):
        for i, block in enumerate(real(net, x0, sigma, layers, rows=rows, **kw)):
            if rows > 32 and i == 3:  # a device that fits 32 samples per pass, found out mid-stream
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            yield block

    monkeypatch.setattr(tasks, "iter_features", picky)
    with caplog.at_level("WARNING", logger="reprdyn"):
        reprdyn.run(spec, store=tmp_path / "oom.zarr")
    assert "retrying with 32 samples per forward pass" in caplog.text
    a, b = reprdyn.open(tmp_path / "plain.zarr"), reprdyn.open(tmp_path / "oom.zarr")
    xrt.assert_equal(a.features("toy", "output").load(), b.features("toy", "output").load())
    xrt.assert_equal(a["toy"].load(), b["toy"].load())


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
    accuracy."""
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


@pytest.mark.parametrize("strategy", ["neighbours", "all", "top"])
def test_resampled_cell_is_the_loop_over_resamples(strategy):
    """The batched bootstrap of one probe cell against a loop that, for each resample, redraws
    the validation and test samples by index, re-chooses sigma* and the ensemble with `select`, and
    scores them with `soft_vote` and `accuracy`."""
    from reprdyn.probes import accuracy, select, soft_vote
    from reprdyn.probes.protocol import bootstrap_counts, resampled

    spec = validate_text(
        SMALL.replace("ensemble: {k: 1}", f"ensemble: {{strategy: {strategy}, k: 1, m: 2}}")
        + "analysis: {bootstrap: 60}\n"
    )
    rng = np.random.default_rng(0)
    S, T, nv, m, K = 5, 4, 30, 40, 3
    val_correct = rng.random((S, T, nv)) < np.linspace(0.4, 0.8, S)[:, None, None]
    logits = rng.standard_normal((S, T, m, K))
    y = rng.integers(0, K, m)
    got = resampled(spec, "toy", val_correct, logits, y)
    seed = lambda part: derive_seed(spec.seed, "toy", "bootstrap", part, spec.analysis.seed)  # noqa: E731
    iv = np.random.default_rng(seed("val")).integers(0, nv, size=(60, nv), dtype=np.int32)
    it = np.random.default_rng(seed("test")).integers(0, m, size=(60, m), dtype=np.int32)
    np.testing.assert_array_equal(
        bootstrap_counts(spec, "toy", "val", nv)[0], np.bincount(iv[0], minlength=nv)
    )
    for b in range(60):
        for t in range(T):
            val = val_correct[:, t][:, iv[b]].mean(-1)  # (S,)
            best, members = select(val, strategy, 1, 2)
            acc = [accuracy(logits[s, t][it[b]].argmax(-1), y[it[b]], K)[0] for s in range(S)]
            ens = (soft_vote(logits[:, t], members)[it[b]].argmax(-1) == y[it[b]]).mean()
            np.testing.assert_allclose(got["accuracy_boot"][:, t, b], acc, rtol=0, atol=1e-12)
            assert got["best_accuracy_boot"][t, b] == pytest.approx(acc[best], abs=1e-12)
            assert got["ensemble_accuracy_boot"][t, b] == pytest.approx(ens, abs=1e-12)
    chosen = got["sigma_star_freq"]  # (S, T): shares of resamples
    np.testing.assert_allclose(chosen.sum(0), 1)
    ci = got["best_accuracy_ci"]
    assert ci.shape == (T, 2) and (ci[:, 0] <= ci[:, 1]).all()


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
