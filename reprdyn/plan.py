"""Plan stage: compile a validated Spec into a list of Tasks (a pure function).

A task is one unit of work whose result lands in its own region of the store.
Its content key hashes everything the result depends on, so equal keys mean
equal results.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .spec import Spec

STAGES = ("data", "features", "theory", "probe")


@dataclass(frozen=True)
class Task:
    stage: str  # one of STAGES
    dataset: str
    params: tuple[tuple[str, object], ...] = ()
    key: str = ""
    deps: tuple[str, ...] = field(default=(), compare=False)

    def param(self, name: str):
        return dict(self.params)[name]

    @property
    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.stage}[{self.dataset}{' ' + extra if extra else ''}]"


def _key(*parts) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan(spec: Spec) -> list[Task]:
    """Tasks in dependency order: data, then features per sigma, then theory and probes."""
    sigmas = spec.sigmas
    model = spec.model.model_dump(mode="json")
    tasks: list[Task] = []
    for ds in spec.datasets:
        dcfg = ds.model_dump(mode="json")
        base = ("v1", spec.seed, dcfg)
        data = Task("data", ds.name, (), _key("data", *base))
        tasks.append(data)
        feats = []
        for i, s in enumerate(sigmas):
            params = (("sigma_index", i), ("sigma", s))
            key = _key("features", *base, model, s, spec.layers, spec.inputs)
            feats.append(Task("features", ds.name, params, key, (data.key,)))
        tasks.extend(feats)
        if "csnr_theory" in spec.metrics:
            tasks.append(Task("theory", ds.name, (), _key("theory", *base, sigmas), (data.key,)))
        if {"accuracy", "class_accuracy"} & set(spec.metrics):
            protocol = (sigmas, spec.label_noise, spec.seeds, spec.val_fraction, spec.ensemble.model_dump())
            for layer in spec.layers:
                for inp in spec.inputs:
                    for probe in spec.probes:
                        params = (("layer", layer), ("input", inp), ("probe", probe.label))
                        key = _key("probe", *base, model, params, probe.model_dump(mode="json"), protocol)
                        tasks.append(Task("probe", ds.name, params, key, tuple(f.key for f in feats)))
    return tasks
