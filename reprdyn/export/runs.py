"""What an export writes, for any tracker: one run for the store and one per result cell.

A cell is one (sweep point, dataset, model, layer, input, probe) curve at the lowest label noise.
Its run holds the curves against sigma as stepped metrics (step = the sigma's index in the grid,
with the value of sigma itself logged as the metric `sigma`), the summary's headline numbers with
their interval bounds, and the spec and cell as parameters. The store's run holds the spec as
written and resolved, the provenance, the summary and the figures as artifacts.

Every run carries a key: a digest of the spec hash, the finished tasks and the cell, so an export
repeated on the same store finds what it wrote and adds only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StoreError
from ..maths.uncertainty import curve_interval
from ..read.summary import (
    Interval,
    cell_grid,
    compare,
    gains,
    reading,
    summarize,
    summarize_segmentation,
)
from ..read.summary.rows import summary_json

CELL_DIMS = ("dataset", "model", "layer", "input", "probe")


def curves_exported() -> dict[str, str | None]:
    """Per-sigma variables logged as stepped metrics, as the metrics declare them (`export`):
    name -> its bootstrap resamples (a band) or None. A curve with resamples is a probe's."""
    from .. import metrics

    return {n: b for m in metrics.registry().values() for n, b in m.export.items()}


_KEY_OK = re.compile(r"[^\w.\-/ ]")  # what trackers accept in a metric or parameter name


@dataclass
class CellRun:
    """One result cell: its identity, its parameters, curves against sigma and headlines."""

    name: str
    key: str
    cell: dict[str, str]
    params: dict[str, str]
    sigma: list[float]
    curves: dict[str, list[float]] = field(default_factory=dict)  # name -> value per sigma
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class StoreRun:
    """A whole store: its identity, parameters, artifacts (relative path -> file) and cells."""

    name: str
    key: str
    spec_hash: str
    created_ms: int
    params: dict[str, str]
    tags: dict[str, str]
    artifacts: dict[str, Path]
    cells: list[CellRun]


def digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def clean_key(name: str) -> str:
    """A metric or parameter name every tracker accepts (datasets[0].n_train ->
    datasets_0_.n_train)."""
    return _KEY_OK.sub("_", name)[:250]


def flatten(tree, prefix: str = "") -> dict[str, str]:
    """A spec as dotted parameters: {'model.train.epochs': '60', 'sigma.grid': '[0.01, ...]'}; a
    list of mappings is numbered (datasets.0.name)."""
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(tree, list) and tree and all(isinstance(v, dict) for v in tree):
        out = {}
        for i, v in enumerate(tree):
            out.update(flatten(v, f"{prefix}.{i}"))
        return out
    text = tree if isinstance(tree, str) else json.dumps(tree)
    return {clean_key(prefix): text}


def _bounds(prefix: str, iv: Interval) -> dict[str, float]:
    return {prefix: iv.value, f"{prefix}_low": iv.low, f"{prefix}_high": iv.high}


def _headlines(path: str, summary: list) -> dict[tuple, dict[str, float]]:
    """Per cell (point, dataset, model, layer, input, probe): the summary's numbers by name."""
    out: dict[tuple, dict[str, float]] = {}

    def at(r):
        return out.setdefault((r.point, r.dataset, r.model, r.layer, r.input, r.probe), {})

    for r in summary:
        at(r).update(
            best_sigma=r.best_sigma,
            best_sigma_agree=r.best_sigma_agree,
            best_sigma_low=r.best_sigma_range[0],
            best_sigma_high=r.best_sigma_range[1],
            val_accuracy_at_best=r.val_accuracy,
            csnr_at_best=r.csnr_at_best,
            csnr_peak_sigma=r.csnr_peak_sigma,
            test_peak_sigma=r.test_peak_sigma,
            test_peak_accuracy=r.test_peak_accuracy,
            unimodal_prob=r.unimodal_prob,
            **_bounds("best_accuracy", r.best_accuracy),
            **_bounds("ensemble_accuracy", r.ensemble_accuracy),
            **_bounds("ensemble_gain", r.ensemble_gain),
        )
    for r in summarize_segmentation(path):
        at(r).update(
            best_sigma=r.best_sigma,
            best_sigma_agree=r.best_sigma_agree,
            test_peak_sigma=r.test_peak_sigma,
            test_peak_miou=r.test_peak_miou,
            **_bounds("best_miou", r.best_miou),
        )
    for r in compare(path):
        at(r).update(_bounds(r.comparison, r.difference))
    table = gains(path)
    if len({r.label_noise for r in table}) > 1:  # Table 1: every label-noise level
        for r in table:
            tag = clean_key(f"label_noise_{r.label_noise:g}")
            at(r).update(
                **_bounds(f"{tag}/best_accuracy", r.best_accuracy),
                **_bounds(f"{tag}/ensemble_accuracy", r.ensemble_accuracy),
                **_bounds(f"{tag}/ensemble_gain", r.ensemble_gain),
            )
    return {k: {m: float(v) for m, v in d.items() if math.isfinite(v)} for k, d in out.items()}


def _curve(ds, var: str, at: dict, confidence: float, seed: int) -> dict[str, list[float]]:
    """`var` against sigma at one cell, the mean over replicates and seeds, with the bounds of its
    hierarchical interval where the store has resamples."""
    da = ds[var]
    da = da.sel({k: v for k, v in at.items() if k in da.dims})
    if "label_noise" in da.dims:
        da = da.sel(label_noise=float(np.min(da.label_noise.values)))
    rest = [d for d in da.dims if d != "sigma"]
    if not set(rest) <= {"replicate", "seed"}:
        return {}  # a variable with other dims (a class, a reference sigma) has no single curve
    values = da.transpose("sigma", *rest).values.reshape(da.sizes["sigma"], -1)
    if not np.isfinite(values).any():
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN sigma stays NaN
        out = {var: [float(v) for v in np.nanmean(values, axis=1)]}
    boot = curves_exported().get(var)
    if boot and boot in ds:
        b = ds[boot].sel({k: v for k, v in at.items() if k in ds[boot].dims})
        b = b.sel(label_noise=float(np.min(b.label_noise.values)))
        draws = b.transpose("sigma", "replicate", "seed", "boot").values  # (S, R, Sd, B)
        low, high = curve_interval(draws, confidence, seed)
        out[f"{var}_low"], out[f"{var}_high"] = low.tolist(), high.tolist()
    return out


def _datasets(res) -> list[tuple[str, str, object]]:
    """(point label, dataset, cube with a model dim) for every dataset of every sweep point."""
    from ..store import point_label

    if res.sweep_dims:
        return [(point_label(v), n, ds) for v, sub in res.points for _, n, ds in _datasets(sub)]
    out = []
    for name in res.datasets:
        ds = res[name]
        out.append(("", name, ds.expand_dims(model=[""]) if "model" not in ds.dims else ds))
    return out


def cells(
    path: str, spec_hash: str, state: str, params: dict[str, str], summary: list
) -> list[CellRun]:
    """Every cell of the store with a probe curve (accuracy or mIoU), in the store's order;
    `summary` is the store's `summarize` rows."""
    from ..store import Results

    heads, out = _headlines(path, summary), []
    for point, dataset, ds in _datasets(Results(path)):
        r = reading(ds)
        for at in cell_grid(ds):
            curves: dict[str, list[float]] = {}
            exported = curves_exported()
            for var in exported:
                if var in ds:
                    curves.update(_curve(ds, var, at, r.confidence, r.seed))
            if not any(b and v in curves for v, b in exported.items()):
                continue  # this probe does not read this layer
            cell = {"point": point, "dataset": dataset, **{k: str(v) for k, v in at.items()}}
            named = [cell[k] for k in ("point", *CELL_DIMS) if cell[k]]
            out.append(
                CellRun(
                    name=" / ".join(named),
                    key=digest(spec_hash, state, cell),
                    cell=cell,
                    params={**params, **{f"cell.{k}": v for k, v in cell.items() if v}},
                    sigma=[float(x) for x in ds.sigma.values],
                    curves=curves,
                    metrics=heads.get(tuple(cell[k] for k in ("point", *CELL_DIMS)), {}),
                )
            )
    return out


def store_run(path: str | Path, workdir: Path, *, partial: bool = False) -> StoreRun:
    """The export of one store: its artifacts written under `workdir`, and its cells. An
    unfinished store is refused unless `partial` (its runs are then tagged partial)."""
    from ..spec import to_yaml
    from ..store import require_attrs, task_status

    path = str(path)
    attrs = require_attrs(path)
    status = task_status(path)
    left = [r for r in status if r["status"] != "done"]
    if left and not partial:
        raise StoreError(
            f"{path}: {len(left)} of {len(status)} task(s) are not done ({left[0]['task']}: "
            f"{left[0]['status']}); finish the run with `reprdyn run`, or export what is there "
            "with --partial"
        )
    spec_hash = attrs["spec_hash"]
    state = digest(sorted(r["key"] for r in status if r["status"] == "done"))
    resolved = attrs.get("spec_resolved") or attrs.get("spec_canonical") or {}
    name = str(resolved.get("name") or Path(path).stem)
    params = {"spec.name": name, "spec.hash": spec_hash, **_versions(attrs)}
    params.update({f"spec.{k}": v for k, v in flatten(resolved).items() if k != "name"})
    tags = {"reprdyn.spec_hash": spec_hash, "reprdyn.partial": str(bool(left)).lower()}
    summary = summarize(path)
    artifacts = _write_artifacts(path, attrs, workdir, to_yaml(resolved), summary)
    created = _created_ms(attrs)
    return StoreRun(
        name=name,
        key=digest(spec_hash, state),
        spec_hash=spec_hash,
        created_ms=created,
        params=params,
        tags=tags,
        artifacts=artifacts,
        cells=cells(path, spec_hash, state, params, summary),
    )


def _versions(attrs: dict) -> dict[str, str]:
    out = {f"version.{k}": str(v) for k, v in (attrs.get("versions") or {}).items()}
    out["git_commit"] = str(attrs.get("git_commit"))
    out["hardware.cpu_capability"] = str((attrs.get("hardware") or {}).get("cpu_capability"))
    return {clean_key(k): v for k, v in out.items()}


def _created_ms(attrs: dict) -> int:
    import datetime as dt

    try:
        return int(dt.datetime.fromisoformat(str(attrs.get("created"))).timestamp() * 1000)
    except ValueError:
        return 0


def _write_artifacts(
    path: str, attrs: dict, workdir: Path, resolved_yaml: str, summary: list
) -> dict:
    """The spec as written and resolved, the provenance, the summary, every other summary table
    with rows (`tables/<key>.json`: shapes, label-free choice, joint probes ...) and every figure
    that applies, as files under `workdir`: {path in the run: file}."""
    from .. import metrics
    from ..read.summary import table_rows

    files = {
        "spec.yaml": attrs.get("spec", ""),
        "spec.resolved.yaml": resolved_yaml,
        "provenance.json": json.dumps(attrs, indent=1, sort_keys=True, default=str),
        "summary.json": summary_json(summary),
    }
    for _, table in metrics.tables()[1:]:  # every other summary table the store has rows for
        rows = table_rows(path, table)
        if rows:
            files[f"tables/{table.key}.json"] = summary_json(rows)
    (workdir / "tables").mkdir(exist_ok=True)
    out = {}
    for rel, text in files.items():
        (workdir / rel).write_text(text)
        out[rel] = workdir / rel
    out.update(_figures(path, workdir))
    return out


def _figures(path: str, workdir: Path) -> dict[str, Path]:
    """Every figure a store supports, per dataset, as PNG (a figure it cannot support is left
    out; one that fails to draw is logged and left out)."""
    import logging

    from .. import plot
    from ..store import Results

    res, out = Results(path), {}
    for dataset in res.datasets:
        for name in plot.FIGURES:
            rel = f"figures/{clean_key(dataset)}/{name}.png"
            try:
                fig = plot.figure(res, name, dataset)
            except plot.FigureError:
                continue
            except Exception as e:  # noqa: BLE001 - one figure never takes the export down
                logging.getLogger("reprdyn").warning("export: figure %r skipped: %s", name, e)
                continue
            (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
            out[rel] = plot.save(fig, workdir / rel)
    return out
