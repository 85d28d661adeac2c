"""The probe kinds' registry: a kind is one module's block, and everything else follows from it.

A toy kind declared here, in this file alone (a nearest-class-mean classifier), reaches the spec's
schema, validation, a run and the cube, with no other change to reprdyn.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Literal

import numpy as np
import pytest
import torch
from helpers import SMALL, invoke
from pydantic import Field

from reprdyn.probes import kinds
from reprdyn.probes.base import StackProbe
from reprdyn.spec.probes import ProbeBlock


class NearestMean(StackProbe):
    """Scores each class by minus the squared distance to its train mean, per (sigma, target)."""

    def __init__(self, n_classes: int, shrink: float, transform: str, standardize: bool):
        self.n_classes, self.shrink = n_classes, shrink
        self.transform, self.standardize = transform, standardize

    def fit(self, X, Y, X_val=None, Y_val=None, seeds=None) -> NearestMean:
        X = self._fit_scaler(self._prepare(X))  # (S, n, C)
        onehot = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(Y)), self.n_classes)
        counts = onehot.sum(1).clamp_min(1).to(X.dtype)  # (T, K)
        sums = torch.einsum("tnk,snc->stkc", onehot.to(X.dtype), X)
        self.means_ = (1 - self.shrink) * sums / counts[None, :, :, None]  # (S, T, K, C)
        return self

    def decision_function(self, X) -> torch.Tensor:
        X = self.transform_input(X)  # (S, m, C)
        return -(torch.cdist(X[:, None], self.means_) ** 2)  # (S, T, m, K)


class NearestMeanProbe(ProbeBlock):
    """A toy kind: the nearest class mean, its means shrunk towards 0 by `shrink`."""

    kind: Literal["nearest-mean"]
    shrink: float = Field(0.0, ge=0, lt=1, description="shrink the class means towards 0")

    def estimator(self, n_classes: int, device: str = "cpu", seed: int = 0):
        return NearestMean(n_classes, **self.params())


@pytest.fixture
def toy():
    kinds.register(NearestMeanProbe)
    yield NearestMeanProbe
    kinds.unregister("nearest-mean")


def test_every_builtin_kind_is_one_module_with_a_block():
    modules = {m.name for m in pkgutil.iter_modules(kinds.__path__)}
    assert len(modules) == len(kinds.builtin())
    assert {"ridge", "logistic", "knn", "aggregate", "concat", "seg_linear"} <= modules
    for name in modules:
        block = importlib.import_module(f"reprdyn.probes.kinds.{name}").PROBE
        assert kinds.kind_of(block).replace("-", "_") == name and issubclass(block, ProbeBlock)
    assert kinds.dense_kinds() == ("seg-linear", "seg-mlp")
    assert [p.kind for p in kinds.defaults()] == ["ridge"]


def test_an_unknown_kind_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown probe kind 'svm'; expected one of ridge, "):
        kinds.get("svm")
    with pytest.raises(TypeError, match="is not a reprdyn.spec.probes.ProbeBlock"):
        kinds.register(dict)
    with pytest.raises(ValueError, match="'ridge' is built in"):
        kinds.unregister("ridge")


def test_a_toy_kind_from_one_file_reaches_schema_validation_and_a_run(toy, tmp_path):
    import reprdyn
    from reprdyn.spec import Spec, validate_text

    schema = json.dumps(Spec.model_json_schema())
    assert "NearestMeanProbe" in schema and "shrink the class means towards 0" in schema
    text = SMALL.replace(
        "probes: [{kind: logistic, transform: abs, standardize: false}]",
        "probes: [{kind: nearest-mean, shrink: 0.1, transform: abs}, {kind: ridge}]",
    )
    with pytest.raises(Exception, match="shrink"):
        validate_text(text.replace("shrink: 0.1", "shrink: 2"))
    spec = validate_text(text)
    reprdyn.run(spec, store=tmp_path / "s.zarr")
    acc = reprdyn.open(tmp_path / "s.zarr")["toy"]["accuracy"].sel(label_noise=0.0)
    toy_acc = acc.sel(probe="nearest-mean").mean("seed").values.ravel()
    assert np.isfinite(toy_acc).all() and toy_acc.max() > 0.6  # 3 classes: chance 1/3 (|x| on
    # a class's subspace is larger: its mean tells the classes apart)
    r = invoke("query", tmp_path / "s.zarr", "best_accuracy", "--sel", "probe=nearest-mean")
    assert r.exit_code == 0 and "nearest-mean" in r.stdout
