"""Plan stage: compile a validated Spec into a list of Tasks (a pure function).

A task is one unit of work whose result lands in its own region of the store
(or, for training, in the checkpoint cache). Its content key hashes everything
the result depends on, so equal keys mean equal results.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .cube import COMPARISONS, wanted
from .spec import Spec
from .spec.kinds import PIXELS, TRAINABLE, dae_sigmas, replicates
from .spec.probes import SEGMENTATION_PROBES

STAGES = (
    "train",
    "data",
    "features",
    "theory",
    "probe",
    "compare",
    "analysis",
    "generate",
    "segment",
)


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


def _train_tasks(spec: Spec, name: str, cfg) -> dict[tuple[int, int], Task]:
    """One task per checkpoint, keyed by (replicate, variant): a diffusion model, or one DAE per
    noise-level set, for each replicate."""
    src = cfg.train.data
    data_cfg = next(d for d in spec.datasets if d.name == src) if isinstance(src, str) else src
    block = cfg.model_dump(mode="json")
    block["train"].pop("replicates")  # a replicate is its index, not the count beside it
    base = ("v2", spec.seed, block, data_cfg.model_dump(mode="json"))
    levels = dae_sigmas(cfg, spec.sigmas)
    out = {}
    for r in range(replicates(cfg)):
        for v, s in enumerate(levels if levels is not None else [None]):
            params = (("model", name), ("replicate", r))
            if levels is not None:
                params += (("variant", v), ("train_sigma", s))
            out[r, v] = Task("train", data_cfg.name, params, _key("train", *base, r, s))
    return out


def _checkpoint(trains: dict, name: str, replicate: int, sigma_index: int) -> Task | None:
    """The train task whose checkpoint serves `name`'s replicate at grid point `sigma_index`."""
    mine = trains.get(name, {})
    variants = {v for _, v in mine}
    return mine.get((replicate, sigma_index if len(variants) > 1 else 0))


def _per_sigma(spec: Spec, stage: str, dataset: str, base: tuple, protocol, data: Task, trains):
    """One `stage` task per (model, replicate, sigma), after the data and its checkpoint."""
    out = []
    for name, cfg in spec.model_items():
        model = cfg.model_dump(mode="json")
        for r in range(replicates(cfg)):
            for i, s in enumerate(spec.sigmas):
                dep = _checkpoint(trains, name, r, i)
                params = (("model", name), ("replicate", r), ("sigma_index", i), ("sigma", s))
                key = _key(stage, *base, model, r, s, protocol, dep.key if dep else None)
                deps = (data.key,) + ((dep.key,) if dep else ())
                out.append(Task(stage, dataset, params, key, deps))
    return out


def _segment_tasks(spec: Spec, dataset: str, base: tuple, data: Task, trains: dict) -> list[Task]:
    """One task per (model, replicate, sigma): every dense set, segmentation probe and input at
    that sigma."""
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
        spec.analysis.bootstrap,
        spec.analysis.confidence,
        spec.analysis.seed,
    )
    return _per_sigma(spec, "segment", dataset, base, protocol, data, trains)


def _probe_tasks(spec: Spec, dataset: str, base: tuple, data: Task, feats: list[Task]):
    """One task per (model, replicate, layer, input, classification probe); the raw-input
    baseline `pixels` needs no features and serves every replicate of a model at once."""
    protocol = (
        spec.sigmas,
        spec.label_noise,
        spec.label_noise_kind,
        spec.seeds,
        spec.val_fraction,
        spec.ensemble.model_dump(),
        "unimodality" in spec.metrics,
        spec.analysis.tolerance,
        spec.analysis.bootstrap,
        spec.analysis.confidence,
        spec.analysis.seed,
    )
    out = []
    for name, cfg in spec.model_items():
        for probe in spec.probes:
            if probe.kind in SEGMENTATION_PROBES:
                continue  # the segment stage fits those
            for layer in spec.probe_layers(probe):
                for r in range(replicates(cfg)) if layer != PIXELS else ["all"]:
                    mine = tuple(
                        f.key
                        for f in feats
                        if f.param("model") == name and f.param("replicate") == r
                    )
                    deps = mine if layer != PIXELS else (data.key,)
                    for inp in spec.inputs:
                        params = (
                            ("model", name),
                            ("replicate", r),
                            ("layer", layer),
                            ("input", inp),
                            ("probe", probe.label),
                        )
                        key = _key(
                            "probe", *base, params, probe.model_dump(mode="json"), protocol, deps
                        )
                        out.append(Task("probe", dataset, params, key, deps))
    return out


def plan(spec: Spec) -> list[Task]:
    """Tasks in dependency order: training, data, features per sigma, then theory, probes,
    comparisons between probed cells, feature analyses (after the probes that pick their reference
    sigma), segmentation per sigma and generation."""
    sigmas = spec.sigmas
    tasks: list[Task] = []
    trains = {
        name: _train_tasks(spec, name, cfg)
        for name, cfg in spec.model_items()
        if cfg.kind in TRAINABLE
    }
    for ts in trains.values():
        tasks.extend(ts.values())
    for ds in spec.datasets:
        base = ("v2", spec.seed, ds.model_dump(mode="json"))
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
                spec.analysis.bootstrap,
            ),
        )
        tasks.append(data)
        extract_cfg = (spec.hooked_layers, spec.inputs, spec.noise_draws, spec.csnr.model_dump())
        feats = (
            _per_sigma(spec, "features", ds.name, base, extract_cfg, data, trains)
            if spec.pooled and (spec.hooked_layers or "posterior_mse" in spec.metrics)
            else []
        )
        tasks.extend(feats)
        if "csnr_theory" in spec.metrics:
            tasks.append(Task("theory", ds.name, (), _key("theory", *base, sigmas), (data.key,)))
        probes: list[Task] = []
        if {"accuracy", "class_accuracy"} & set(spec.metrics):
            probes = _probe_tasks(spec, ds.name, base, data, feats)
        tasks.extend(probes)
        compared = [v for v in COMPARISONS if v != "ensemble_gain" and v in wanted(spec)]
        if compared:
            deps = tuple(t.key for t in probes)
            key = _key("compare", *base, compared, spec.analysis.model_dump(), deps)
            tasks.append(Task("compare", ds.name, (), key, deps))
        if {"sw_distance", "cka"} & set(spec.metrics):
            what = (sorted({"sw_distance", "cka"} & set(spec.metrics)), spec.analysis.model_dump())
            for name, cfg in spec.model_items():
                for r in range(replicates(cfg)):
                    for layer in spec.hooked_layers:
                        for inp in spec.inputs:
                            params = (
                                ("model", name),
                                ("replicate", r),
                                ("layer", layer),
                                ("input", inp),
                            )
                            # this replicate's features (they have no layer/input param) and its
                            # probes of this layer/input
                            deps = tuple(
                                t.key
                                for t in feats + probes
                                if t.param("model") == name
                                and t.param("replicate") == r
                                and t.param("layer", layer) == layer
                                and t.param("input", inp) == inp
                            )
                            key = _key("analysis", *base, params, what, deps)
                            tasks.append(Task("analysis", ds.name, params, key, deps))
        if "miou" in spec.metrics:
            tasks.extend(_segment_tasks(spec, ds.name, base, data, trains))
        if "generalization" in spec.metrics:
            for name, cfg in spec.model_items():
                if cfg.kind == "dae":
                    continue  # a DAE cannot generate; its score stays NaN
                for r in range(replicates(cfg)):
                    ckpt = _checkpoint(trains, name, r, 0)
                    deps = (data.key,) + ((ckpt.key,) if ckpt else ())
                    params = (("model", name), ("replicate", r))
                    key = _key(
                        "generate",
                        *base,
                        cfg.model_dump(mode="json"),
                        r,
                        spec.generation.model_dump(),
                        deps,
                    )
                    tasks.append(Task("generate", ds.name, params, key, deps))
    return tasks
