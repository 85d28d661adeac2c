"""Plan stage: compile a validated Spec into a list of Tasks (a pure function).

A task is one unit of work whose result lands in its own region of the store
(or, for training, in the checkpoint cache). Its content key hashes everything
the result depends on, so equal keys mean equal results.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .models.kinds import TRAINABLE, dae_sigmas
from .spec import Spec
from .spec.schema import SEGMENTATION_PROBES

STAGES = ("train", "data", "features", "theory", "probe", "analysis", "generate", "segment")


@dataclass(frozen=True)
class Task:
    stage: str  # one of STAGES
    dataset: str  # the probed dataset (for `train`: the training data's name)
    params: tuple[tuple[str, object], ...] = ()
    key: str = ""
    deps: tuple[str, ...] = field(default=(), compare=False)

    def param(self, name: str, default=None):
        return dict(self.params).get(name, default)

    @property
    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.params if v != "")
        return f"{self.stage} {self.dataset}{' ' + extra if extra else ''}"


def _key(*parts) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_data_name(model_cfg) -> str:
    src = model_cfg.train.data
    return src if isinstance(src, str) else src.name


def _train_tasks(spec: Spec, name: str, cfg) -> list[Task]:
    """One task per checkpoint: a diffusion model, or one DAE per noise-level set."""
    src = cfg.train.data
    data_cfg = next(d for d in spec.datasets if d.name == src) if isinstance(src, str) else src
    base = ("v1", spec.seed, cfg.model_dump(mode="json"), data_cfg.model_dump(mode="json"))
    levels = dae_sigmas(cfg, spec.sigmas)
    if levels is None:
        return [Task("train", data_cfg.name, (("model", name),), _key("train", *base))]
    return [
        Task(
            "train",
            data_cfg.name,
            (("model", name), ("variant", v), ("train_sigma", s)),
            _key("train", *base, s),
        )
        for v, s in enumerate(levels)
    ]


def _segment_tasks(spec: Spec, dataset: str, base: tuple, data: Task, trains: dict) -> list[Task]:
    """One task per (model, sigma): every dense set, segmentation probe and input at that sigma."""
    protocol = (
        spec.dense,
        spec.inputs,
        spec.noise_draws,
        [p.model_dump(mode="json") for p in spec.probes if p.kind in SEGMENTATION_PROBES],
        spec.segmentation.model_dump(),
        spec.label_noise,
        spec.label_noise_kind,
        spec.seeds,
        spec.val_fraction,
    )
    out = []
    for name, cfg in spec.model_items():
        ckpts = trains.get(name, [])
        for i, s in enumerate(spec.sigmas):
            dep = ckpts[i] if len(ckpts) > 1 else (ckpts[0] if ckpts else None)
            params = (("model", name), ("sigma_index", i), ("sigma", s))
            key = _key(
                "segment", *base, cfg.model_dump(mode="json"), s, protocol, dep.key if dep else None
            )
            out.append(
                Task("segment", dataset, params, key, (data.key,) + ((dep.key,) if dep else ()))
            )
    return out


def plan(spec: Spec) -> list[Task]:
    """Tasks in dependency order: training, data, features per sigma, then theory, probes, feature
    analyses (after the probes that pick their reference sigma), segmentation per sigma and
    generation."""
    sigmas = spec.sigmas
    tasks: list[Task] = []
    trains = {
        name: _train_tasks(spec, name, cfg)
        for name, cfg in spec.model_items()
        if cfg.kind in TRAINABLE
    }
    for ts in trains.values():
        tasks.extend(ts)
    for ds in spec.datasets:
        base = ("v1", spec.seed, ds.model_dump(mode="json"))
        data = Task(
            "data",
            ds.name,
            (),
            _key(
                "data",
                *base,
                spec.model_dump(mode="json", include={"models", "model"}),
                sigmas,
                spec.layers,
                spec.dense,
                [p.label for p in spec.probes],
                spec.inputs,
                spec.metrics,
            ),
        )
        tasks.append(data)
        feats = []
        extract_cfg = (spec.layers, spec.inputs, spec.noise_draws, spec.csnr.model_dump())
        for name, cfg in spec.model_items():
            model = cfg.model_dump(mode="json")
            ckpts = trains.get(name, [])
            for i, s in enumerate(sigmas if spec.pooled else ()):
                dep = ckpts[i] if len(ckpts) > 1 else (ckpts[0] if ckpts else None)
                params = (("model", name), ("sigma_index", i), ("sigma", s))
                key = _key("features", *base, model, s, extract_cfg, dep.key if dep else None)
                feats.append(
                    Task(
                        "features", ds.name, params, key, (data.key,) + ((dep.key,) if dep else ())
                    )
                )
        tasks.extend(feats)
        if "csnr_theory" in spec.metrics:
            tasks.append(Task("theory", ds.name, (), _key("theory", *base, sigmas), (data.key,)))
        probes: list[Task] = []
        if {"accuracy", "class_accuracy"} & set(spec.metrics):
            protocol = (
                sigmas,
                spec.label_noise,
                spec.label_noise_kind,
                spec.seeds,
                spec.val_fraction,
                spec.ensemble.model_dump(),
                "unimodality" in spec.metrics,
                spec.analysis.tolerance,
            )
            for name, _ in spec.model_items():
                mine = tuple(f.key for f in feats if f.param("model") == name)
                for probe in spec.probes:
                    if probe.kind in SEGMENTATION_PROBES:
                        continue  # the segment stage fits those
                    for layer in spec.probe_layers(probe):
                        for inp in spec.inputs:
                            params = (
                                ("model", name),
                                ("layer", layer),
                                ("input", inp),
                                ("probe", probe.label),
                            )
                            key = _key(
                                "probe",
                                *base,
                                params,
                                probe.model_dump(mode="json"),
                                protocol,
                                mine,
                            )
                            probes.append(Task("probe", ds.name, params, key, mine))
        tasks.extend(probes)
        if {"sw_distance", "cka"} & set(spec.metrics):
            what = (sorted({"sw_distance", "cka"} & set(spec.metrics)), spec.analysis.model_dump())
            for name, _ in spec.model_items():
                for layer in spec.layers:
                    for inp in spec.inputs:
                        params = (("model", name), ("layer", layer), ("input", inp))
                        # this model's features (they have no layer/input param) and its probes of
                        # this layer/input
                        deps = tuple(
                            t.key
                            for t in feats + probes
                            if t.param("model") == name
                            and t.param("layer", layer) == layer
                            and t.param("input", inp) == inp
                        )
                        tasks.append(
                            Task(
                                "analysis",
                                ds.name,
                                params,
                                _key("analysis", *base, params, what, deps),
                                deps,
                            )
                        )
        if "miou" in spec.metrics:
            tasks.extend(_segment_tasks(spec, ds.name, base, data, trains))
        if "generalization" in spec.metrics:
            for name, cfg in spec.model_items():
                if cfg.kind == "dae":
                    continue  # a DAE cannot generate; its score stays NaN
                deps = (data.key,) + tuple(t.key for t in trains.get(name, []))
                params = (("model", name),)
                key = _key(
                    "generate",
                    *base,
                    cfg.model_dump(mode="json"),
                    spec.generation.model_dump(),
                    deps,
                )
                tasks.append(Task("generate", ds.name, params, key, deps))
    return tasks
