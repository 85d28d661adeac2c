"""Store provenance: what a store says about where its numbers came from (the spec as written and
resolved, its hash, package versions, the git commit, the hardware), and how two specs differ."""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
from importlib import metadata
from pathlib import Path

FORMAT = "reprdyn-store"
# 2: the spec, its bases and a sweep's points are JSON objects in the attributes (1: JSON text)
FORMAT_VERSION = 2
KEY_PACKAGES = ("torch", "numpy", "xarray", "zarr", "scikit-learn", "pydantic")


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("reprdyn", *KEY_PACKAGES):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def hardware() -> dict:
    """What computed the numbers: results are bit-identical only on the same hardware and software,
    so the store says which CPU instruction set torch used and which GPUs it saw."""
    import platform

    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
        "torch": torch.__version__,
    }


def provenance(
    spec_text: str,
    spec_hash: str,
    canonical: dict,
    resolved: dict | None = None,
    bases: dict[str, str] | None = None,
) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "spec": spec_text,
        "spec_resolved": _sorted(resolved if resolved is not None else canonical),
        "spec_bases": dict(bases or {}),
        "spec_hash": spec_hash,
        "spec_canonical": _sorted(canonical),
        "reprdyn_version": _versions()["reprdyn"],
        "versions": _versions(),
        "git_commit": _git_commit(),
        "hardware": hardware(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _sorted(tree: dict) -> dict:
    """A JSON tree with its keys sorted at every level, as it is stored."""
    return json.loads(json.dumps(tree, sort_keys=True))


# root attributes that hold JSON objects (format 1 stored them as JSON text)
JSON_ATTRS = ("spec_canonical", "spec_resolved", "spec_bases", "sweep")


def decoded(attrs: dict) -> dict:
    """Root attributes with the JSON attributes as objects, whichever format wrote them: format 1
    stored them as JSON text. Text that does not parse is left as it is (`require_attrs` says the
    attribute is damaged)."""
    out = dict(attrs)
    for name in JSON_ATTRS:
        if isinstance(out.get(name), str):
            try:
                out[name] = json.loads(out[name])
            except ValueError:
                pass
    return out


def diff_fields(a, b, path: str = "") -> list[str]:
    """Field paths where two canonical specs differ, as 'path: old -> new'."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += diff_fields(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        return out
    if (
        isinstance(a, list)
        and isinstance(b, list)
        and len(a) == len(b)
        and any(isinstance(x, dict) for x in a)
    ):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff_fields(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {json.dumps(a)} -> {json.dumps(b)}"]
