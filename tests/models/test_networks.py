"""Raw networks: shapes and stable, readable block names."""

from __future__ import annotations

import torch

from reprdyn.compute.extract import layer_shapes
from reprdyn.models.networks import MLP, UNet
from reprdyn.models.precond import EDMPrecond


def test_unet_shapes_and_names():
    net = UNet((1, 8, 8), channels=16, mult=(1, 2, 2), attention=(1,))
    x = torch.randn(3, 1, 8, 8)
    assert net(x, torch.rand(3)).shape == x.shape
    shapes = layer_shapes(EDMPrecond(net), x, 0.5)
    for name, shape in {
        "stem": (16, 8, 8),
        "enc.0": (16, 8, 8),
        "down.0": (16, 4, 4),
        "enc.1": (32, 4, 4),
        "enc.2": (32, 2, 2),
        "mid": (32, 2, 2),
        "dec.0": (32, 2, 2),
        "up.0": (32, 4, 4),
        "dec.2": (16, 8, 8),
        "out": (1, 8, 8),
        "output": (1, 8, 8),
    }.items():
        assert shapes[name] == shape, name
    assert "enc.1.attn.0" in shapes and "enc.0.attn" not in shapes


def test_mlp_is_three_linear_layers():
    net = MLP((50,), width=64)
    linears = [
        n
        for n, m in net.named_modules()
        if isinstance(m, torch.nn.Linear) and not n.startswith("embed") and not n.endswith(".emb")
    ]
    assert linears == ["fc1.lin", "fc2.lin", "head"]
    shapes = layer_shapes(EDMPrecond(net), torch.randn(2, 50), 1.0)
    assert shapes["fc2"] == (64,) and shapes["output"] == (50,)
