"""Extraction: hooks capture what a manual forward pass computes; pooling; seeded noisy input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray.testing as xrt
from helpers import SMALL
from torch import nn

import reprdyn
from reprdyn.compute.extract import NoiseStream, Pass, extract, hookable_layers, iter_features
from reprdyn.spec import validate_text


def test_out_of_memory_mid_stream_splits_the_passes_and_keeps_the_noise(
    tmp_path, monkeypatch, caplog
):
    """A simulated out-of-memory error after some blocks: the retry runs 32 samples per pass, and
    every sample's noise, hence its features, are those of an uninterrupted run."""
    import logging

    import torch

    import reprdyn.compute.extract as tasks

    # the CLI's own handler may be set
    monkeypatch.setattr(logging.getLogger("reprdyn"), "propagate", True)
    spec = validate_text(SMALL + "inputs: [clean, noisy]\nnoise_draws: 3\n")
    reprdyn.run(spec, store=tmp_path / "plain.zarr")
    real = tasks.iter_features

    def picky(net, x0, layers, how):
        for i, block in enumerate(real(net, x0, layers, how)):
            if (
                how.rows > 32 and i == 3
            ):  # a device that fits 32 samples per pass, found out mid-stream
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            yield block

    monkeypatch.setattr(tasks, "iter_features", picky)
    with caplog.at_level("WARNING", logger="reprdyn"):
        reprdyn.run(spec, store=tmp_path / "oom.zarr")
    assert "retrying with 32 samples per forward pass" in caplog.text
    a, b = reprdyn.open(tmp_path / "plain.zarr"), reprdyn.open(tmp_path / "oom.zarr")
    xrt.assert_equal(a.features("toy", "output").load(), b.features("toy", "output").load())
    xrt.assert_equal(a["toy"].load(), b["toy"].load())


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.act = nn.ReLU()
        self.head = nn.Linear(3, 4)

    def forward(self, x, sigma):
        h = self.act(self.conv(x * (1 + sigma)))
        return self.head(h.mean((2, 3)))


def test_hooks_equal_manual_forward():
    net, x = Tiny(), torch.randn(5, 1, 6, 6)
    got = extract(net, x, 0.5, ["conv", "act", "output"])
    with torch.no_grad():
        conv = net.conv(x * 1.5)
        out = net.head(torch.relu(conv).mean((2, 3)))
    torch.testing.assert_close(got["conv"], conv.mean((2, 3)))  # global average pooling, (B, C)
    torch.testing.assert_close(got["act"], torch.relu(conv).mean((2, 3)))
    torch.testing.assert_close(got["output"], out)
    assert not net.conv._forward_hooks  # hooks are removed


def test_unknown_layer_lists_valid_names():
    assert hookable_layers(Tiny()) == ["conv", "act", "head", "output"]
    with pytest.raises(
        ValueError, match="unknown layer 'cnv'; valid layers: conv, act, head, output"
    ):
        extract(Tiny(), torch.randn(1, 1, 4, 4), 0.1, ["cnv"])


class Identity(nn.Module):
    def forward(self, x, sigma):
        return x


def features(net, x0, sigma, rows, noise=None, draws=1, layers=("output",)):
    """All rows' features from iter_features, stacked."""
    parts = [f for _, _, f in iter_features(net, x0, list(layers), Pass(sigma, noise, draws, rows))]
    return {k: np.concatenate([p[k] for p in parts]) for k in layers}


def test_noisy_input_is_seeded_and_follows_theory():
    x0 = np.zeros((2000, 3))
    a = features(Identity(), x0, 0.7, 300, NoiseStream(5, (3,)))["output"]
    b = features(Identity(), x0, 0.7, 300, NoiseStream(5, (3,)))["output"]
    np.testing.assert_array_equal(a, b)
    assert a.std() == pytest.approx(0.7, rel=0.03)  # x_sigma = x0 + sigma * eps
    assert not np.array_equal(a, features(Identity(), x0, 0.7, 300, NoiseStream(6, (3,)))["output"])
    clean = features(Identity(), x0 + 1, 0.7, 300)["output"]
    np.testing.assert_array_equal(clean, x0 + 1)


class Recorder(nn.Module):
    """An elementwise 'network' (no cross-row arithmetic) that records every input it sees."""

    def __init__(self):
        super().__init__()
        self.act = nn.Tanh()
        self.seen = []

    def forward(self, x, sigma):
        self.seen.append(x.clone())
        return self.act(x) * 2


@pytest.mark.parametrize("draws", [1, 3])
def test_noise_of_a_sample_does_not_depend_on_how_many_pass_at_once(draws):
    """With 1, 7 or 64 samples per pass, every sample gets the same noise, and an elementwise
    network's features are bit-identical (a network's own kernels may round differently with the
    pass size).
    """
    x0 = np.random.default_rng(0).normal(size=(300, 1, 4, 4))
    runs = []
    for rows in (1, 7, 64):
        net = Recorder()
        feats = features(net, x0, 0.8, rows, NoiseStream(11, (1, 4, 4)), draws, ("act", "output"))
        # per draw, every sample in order
        inputs = [torch.cat(net.seen[j::draws]) for j in range(draws)]
        runs.append((feats, inputs))
    for feats, inputs in runs[1:]:
        for layer in ("act", "output"):
            np.testing.assert_array_equal(runs[0][0][layer], feats[layer])
        for a, b in zip(runs[0][1], inputs):
            assert torch.equal(a, b)


def test_noise_stream_is_a_function_of_sample_and_draw():
    stream = NoiseStream(3, (2,))
    whole = stream(0, 700, draw=1)
    np.testing.assert_array_equal(stream(250, 530, draw=1), whole[250:530])  # across block edges
    # fresh stream, last row
    np.testing.assert_array_equal(NoiseStream(3, (2,))(699, 700, draw=1), whole[699:])
    assert not np.array_equal(stream(0, 700, draw=0), whole)  # draws differ
    assert stream(5, 5).shape == (0, 2)


def test_draws_average():
    x0 = np.zeros((1000, 4))
    avg = features(Identity(), x0, 1.0, 64, NoiseStream(1, (4,)), draws=4)["output"]
    assert avg.std() == pytest.approx(0.5, rel=0.05)  # mean of 4 draws: sigma / sqrt(4)


def test_output_is_flattened_and_maps_are_pooled():
    net = Tiny()
    got = extract(net, torch.randn(2, 1, 6, 6), 0.0, ["conv"])
    assert got["conv"].shape == (2, 3)

    class Img(nn.Module):
        def forward(self, x, sigma):
            return x

    out = extract(Img(), torch.randn(2, 1, 6, 6), 0.0, ["output"])["output"]
    assert out.shape == (2, 36)


def test_hooks_of_concurrent_threads_do_not_cross():
    import threading

    net = Tiny()
    results, errors = {}, []

    def work(b):
        try:
            for _ in range(20):
                x = torch.full((b, 1, 6, 6), float(b))
                got = extract(net, x, 0.1, ["conv", "output"])
                assert got["conv"].shape[0] == b and got["output"].shape[0] == b
            results[b] = got["conv"]
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(b,)) for b in (3, 5, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(results) == [3, 5, 7]
