"""Model sources: the kind table, the exact posterior built once per dataset, and a trained model
asking the trainer it was handed for each (replicate, DAE level set) exactly once."""

from __future__ import annotations

import pytest
import torch
from helpers import molrg_spec, trained_spec

from reprdyn.models.sources import SOURCES, Analytic, Loaded, Trained, source
from reprdyn.runner.context import DataCache
from reprdyn.spec import validate_text
from reprdyn.spec.kinds import ANALYTIC, PRETRAINED, TRAINABLE


def test_every_kind_has_one_source():
    assert set(SOURCES) == {*ANALYTIC, *TRAINABLE, *PRETRAINED}
    assert {SOURCES[k] for k in TRAINABLE} == {Trained} and SOURCES["sd"] is Loaded
    spec = validate_text(molrg_spec())
    with pytest.raises(ValueError, match="unknown model kind 'gan'; expected one of"):
        source(spec, spec.model.model_copy(update={"kind": "gan"}), None, "cpu")


def test_the_exact_posterior_is_built_once_per_dataset():
    spec = validate_text(molrg_spec())
    src = source(spec, spec.model, DataCache(spec), "cpu")
    assert isinstance(src, Analytic) and src.denoiser("m", 0) is src.denoiser("m", 2)
    net, x = src.shape_net("m")
    assert x.shape == (2, 12) and net(x, 0.5).shape == (2, 12)


def test_a_trained_model_calls_its_trainer_once_per_checkpoint():
    text = (
        trained_spec(grid="sigma: [0.1, 1.0]")
        .replace("  kind: diffusion\n", "  kind: dae\n  train_sigma: grid\n")
        .replace("precond: {kind: vp}", "precond: {kind: edm}")
    )
    spec = validate_text(text)
    calls = []

    def trainer(cfg, data, levels, replicate, seed, cache, device, report):
        calls.append((tuple(levels), replicate))
        return torch.nn.Identity(), f"ckpt-{len(calls)}", True

    src = source(spec, spec.model, DataCache(spec), "cpu", trainer=trainer)
    for _ in range(2):
        src.denoiser("m", 0), src.denoiser("m", 1), src.denoiser("m", 1, replicate=1)
    assert calls == [((0.1,), 0), ((1.0,), 0), ((1.0,), 1)]  # a DAE per grid sigma
    assert src.checkpoints[(1, 1)] == ("ckpt-3", True)
    without = source(spec, spec.model, DataCache(spec), "cpu")
    with pytest.raises(RuntimeError, match="this source has no trainer"):
        without.denoiser("m", 0)
