"""The layer shapes of untrained networks, kept on disk, so that `reprdyn validate` answers in about
a second without importing torch (1 s) or tracing a U-Net (1 s more on the meta device).

An entry is keyed by the model block, the data's per-sample shape, the bytes of the code that
builds and traces the network, and the torch version, so it is never read for another network.
Entries live in the user's own cache (`$REPRDYN_CACHE` or ~/.cache/reprdyn, never a folder a
spec names: a shared repository cannot plant layer lists), under `layers/`; an unreadable or
malformed entry is ignored and rebuilt. Writing is best-effort: a read-only cache only costs time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

# the modules whose code decides which layers a network has and what shape they give
SOURCES = ("models/networks.py", "models/precond.py", "models/build.py", "compute/extract.py")


@functools.lru_cache(maxsize=1)
def _code() -> str:
    root = Path(__file__).resolve().parents[1]
    blob = hashlib.sha256()
    for rel in SOURCES:
        blob.update((root / rel).read_bytes())
    try:
        blob.update(metadata.version("torch").encode())
    except metadata.PackageNotFoundError:
        pass
    return blob.hexdigest()


def _path(model_cfg, shape: tuple) -> Path:
    from ..spec.tree import cache_root

    block = model_cfg.model_dump(mode="json")
    key = hashlib.sha256(json.dumps([block, list(shape), _code()], sort_keys=True).encode())
    return cache_root(None) / "layers" / f"{key.hexdigest()[:24]}.json"


def get(model_cfg, shape: tuple) -> dict[str, tuple] | None:
    """The layer shapes saved for this network on data of `shape`, or None."""
    try:
        saved = json.loads(_path(model_cfg, shape).read_text())
        return {str(k): tuple(int(n) for n in v) for k, v in saved.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def put(model_cfg, shape: tuple, shapes: dict[str, tuple]) -> None:
    """Save the layer shapes of this network (atomically; silently skipped where it cannot)."""
    path = _path(model_cfg, shape)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({k: list(v) for k, v in shapes.items()}))
        os.replace(tmp, path)
    except OSError:
        pass
