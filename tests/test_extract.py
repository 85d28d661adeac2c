"""Extraction: hooks capture what a manual forward pass computes; pooling; seeded noisy input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reprdyn.extract import extract, extract_all, hookable_layers


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
    with pytest.raises(ValueError, match="unknown layer 'cnv'; valid layers: conv, act, head, output"):
        extract(Tiny(), torch.randn(1, 1, 4, 4), 0.1, ["cnv"])


def test_noisy_input_is_seeded_and_follows_theory():
    class Identity(nn.Module):
        def forward(self, x, sigma):
            return x
    x0 = np.zeros((2000, 3))
    a = extract_all(Identity(), x0, 0.7, ["output"], noisy=True, seed=5, batch_size=300)["output"]
    b = extract_all(Identity(), x0, 0.7, ["output"], noisy=True, seed=5, batch_size=300)["output"]
    np.testing.assert_array_equal(a, b)
    assert a.std() == pytest.approx(0.7, rel=0.03)  # x_sigma = x0 + sigma * eps
    clean = extract_all(Identity(), x0 + 1, 0.7, ["output"], noisy=False, seed=5, batch_size=300)["output"]
    np.testing.assert_array_equal(clean, x0 + 1)


def test_noise_does_not_depend_on_batch_size_and_draws_average():
    class Identity(nn.Module):
        def forward(self, x, sigma):
            return x
    x0 = np.zeros((1000, 4))
    a = extract_all(Identity(), x0, 1.0, ["output"], noisy=True, seed=1, batch_size=64)["output"]
    b = extract_all(Identity(), x0, 1.0, ["output"], noisy=True, seed=1, batch_size=1000)["output"]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)  # float32 forward, same noise
    avg = extract_all(Identity(), x0, 1.0, ["output"], noisy=True, seed=1, batch_size=64, draws=4)["output"]
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
