"""Inspecting stores, next to the store: the resolved spec of a store, differences between specs or
stores, and the catalog of every store under a folder (`reprdyn spec`, `reprdyn diff`, `reprdyn ls
DIR`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import store
from ..errors import StoreError
from .summary import SummaryRow, summarize


def spec_of(path: str | Path) -> str:
    """The exact resolved spec a store was written from, as YAML that re-runs to the same cube.

    Where results go is the runner's choice, never a spec's (README, "Sharing specs safely"): the
    YAML names no store and no checkpoint cache, and its header gives the command that resumes
    this store (`--store` it) or reproduces it elsewhere.
    """
    import shlex

    from ..spec import to_yaml

    attrs = store.require_attrs(path)
    if "spec_resolved" not in attrs:
        raise StoreError(f"{path}: this store keeps no resolved spec (written by an older reprdyn)")
    where = Path(path).resolve()
    spec = {k: v for k, v in attrs["spec_resolved"].items() if k != "store"}
    compute = {k: v for k, v in (spec.get("compute") or {}).items() if k != "cache"}
    cache = (spec.get("compute") or {}).get("cache")
    if "compute" in spec:
        spec["compute"] = compute
    grant = f" --set compute.cache={shlex.quote(str(cache))}" if cache else ""
    head = (
        f"# resolved spec of {where} (spec hash {attrs['spec_hash'][:16]})\n"
        "# resume that store (a finished one has nothing left to do):\n"
        f"#   reprdyn run THIS.yaml --store {shlex.quote(str(where))}{grant}\n"
        "# reproduce it from scratch:\n"
        f"#   reprdyn run THIS.yaml --store fresh.zarr{grant} && "
        f"reprdyn diff {shlex.quote(str(where))} fresh.zarr\n"
    )
    return head + to_yaml(spec)


def _canonical_of(path: str | Path, allow_env=()) -> tuple[dict, bool]:
    """(canonical spec, is a store) for a spec file or a store."""
    p = Path(path)
    if store.read_attrs(p) is not None:
        return store.require_attrs(p)["spec_canonical"], True
    if p.is_dir():
        raise StoreError(f"{p}: neither a spec file nor a reprdyn store")
    from ..spec import canonical, load_spec

    # comparing imports no code; the variables are the ones the runner allows (--env)
    return canonical(load_spec(p, trust_code=True, allow_env=allow_env)), False


def diff(a: str | Path, b: str | Path, allow_env=()) -> dict:
    """Semantic differences between two specs or stores: spec fields, and for two stores the metrics
    on their shared coordinates (max and mean |difference| per dataset and variable)."""
    from .reader import CubeStore, align

    (ca, sa), (cb, sb) = _canonical_of(a, allow_env), _canonical_of(b, allow_env)
    out = {"fields": store.diff_fields(ca, cb), "metrics": []}
    if sa and sb:
        ra, rb = CubeStore(a), CubeStore(b)
        for name in sorted(set(ra.datasets) & set(rb.datasets)):
            for var in sorted(set(ra.names(name)) & set(rb.names(name))):
                pair = align(ra.cube(name, var), rb.cube(name, var))
                if pair is None or pair[0].size == 0:
                    continue
                d = np.abs(np.asarray(pair[0], float) - np.asarray(pair[1], float))
                if np.isfinite(d).any():
                    out["metrics"].append(
                        {
                            "dataset": name,
                            "variable": var,
                            "shared": int(d.size),
                            "max_abs_diff": float(np.nanmax(d)),
                            "mean_abs_diff": float(np.nanmean(d)),
                        }
                    )
    return out


def _chosen(rows: list[SummaryRow]) -> dict | None:
    """The store's headline, chosen on validation data alone: the (point, model, layer, input,
    probe) whose validation accuracy at its sigma* is highest, with the test accuracy there."""
    rows = [r for r in rows if np.isfinite(r.val_accuracy)]
    if not rows:
        return None
    r = max(rows, key=lambda r: r.val_accuracy)
    what = "/".join(x for x in (r.point, r.dataset, r.model, r.layer, r.input, r.probe) if x)
    return {
        "what": what,
        "best_sigma": r.best_sigma,
        "val_accuracy": r.val_accuracy,
        "test_accuracy": r.best_accuracy.value,
        "test_accuracy_interval": [
            x if np.isfinite(x) else None for x in (r.best_accuracy.low, r.best_accuracy.high)
        ],
    }


def catalog(folder: str | Path, max_depth: int = 4) -> list[dict]:
    """Every reprdyn store under `folder`: name, spec hash, status, creation time, size, and the
    headline chosen on validation data (never the best test number)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StoreError(f"{folder}: not a folder")
    found, stack = [], [(folder, 0)]
    while stack:
        here, depth = stack.pop()
        attrs = store.read_attrs(here) if (here / "zarr.json").exists() else None
        if attrs is not None:
            found.append((here, attrs))
            continue  # a store's own subfolders hold no stores
        if depth < max_depth:
            stack += [(c, depth + 1) for c in sorted(here.iterdir(), reverse=True) if c.is_dir()]
    rows = []
    for path, attrs in sorted(found):
        try:
            rows.append(_entry(path, store.require_attrs(path)))
        except StoreError as e:  # one damaged store is listed as such, never hides the others
            rows.append(
                {
                    "store": str(path),
                    "name": None,
                    "spec_hash": str(attrs.get("spec_hash"))[:12],
                    "status": "damaged",
                    "created": attrs.get("created"),
                    "size_bytes": sum(f.stat().st_size for f in path.rglob("*") if f.is_file()),
                    "best": None,
                    "error": str(e),
                }
            )
    return rows


def _entry(path: Path, attrs: dict) -> dict:
    """One store's catalog row."""
    try:
        tasks = store.task_status(path)
        status = (
            "failed"
            if any(t["status"] == "failed" for t in tasks)
            else "complete"
            if all(t["status"] == "done" for t in tasks)
            else "partial"
        )
    except StoreError:
        status = "partial"
    return {
        "store": str(path),
        "name": attrs["spec_canonical"].get("name"),
        "spec_hash": attrs["spec_hash"][:12],
        "status": status,
        "created": attrs.get("created"),
        "size_bytes": sum(f.stat().st_size for f in path.rglob("*") if f.is_file()),
        "best": _chosen(summarize(path)) if status != "partial" else None,
    }
