"""A pretrained model's prompt embeddings, computed once per (model, prompt) and kept on disk, so
a run never loads a text encoder an earlier run already ran (FLUX's T5-XXL alone is about 19 GB
in float32), nor at all when the cache holds the answer.

An entry is keyed by what decides the embeddings: the family (sd, sdxl, sd3, flux), the prompt and
token lengths, and the identity of the tokenizer and text-encoder files: a local folder's file
sizes and modification times, or a hub model's cached snapshot commit. A model whose files cannot
be identified without loading them (a hub id not in the cache yet) is computed and not kept the
first time; the next run finds the snapshot and keeps it. Entries live in the user's own cache
(`$REPRDYN_CACHE` or ~/.cache/reprdyn, under `prompts/`, never a folder a spec names: a shared
repository cannot plant embeddings); an unreadable entry is recomputed, and writing is
best-effort.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

TEXT_PARTS = ("tokenizer", "text_encoder")  # the subfolder prefixes that decide the embeddings
FORMAT = 1


def identity(cfg) -> list | None:
    """What the model's tokenizer and text-encoder files are, without reading their weights: a
    local folder's (file, size, mtime) list, a cached hub snapshot's commit; None when unknown."""
    folder = Path(cfg.id)
    if folder.is_dir():
        return sorted(
            [str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns]
            for sub in folder.iterdir()
            if sub.is_dir() and sub.name.startswith(TEXT_PARTS)
            for p in sub.rglob("*")
            if p.is_file()
        )
    from ..spec.hub import cached_file

    hit = cached_file(cfg.id, "text_encoder/config.json", cfg.revision)
    if hit is None:
        return None  # not kept
    parts = hit.parts
    return [cfg.id, parts[parts.index("snapshots") + 1]] if "snapshots" in parts else None


def _path(key: list) -> Path:
    from ..spec.tree import cache_root

    digest = hashlib.sha256(json.dumps([FORMAT, key], sort_keys=True).encode()).hexdigest()
    return cache_root(None) / "prompts" / f"{digest[:24]}.pt"


def cached(cfg, family: str, lengths: dict, compute: Callable[[], tuple]) -> tuple:
    """`compute()`'s tensors (None entries allowed), float32 on the CPU, for this model and prompt:
    from the cache when an entry is there, else computed and kept."""
    who = identity(cfg)
    key = [family, cfg.prompt, lengths, who]
    if who is not None:
        try:
            saved = torch.load(_path(key), weights_only=True)
            return tuple(saved)
        except (OSError, RuntimeError, ValueError, EOFError, TypeError):
            pass
    out = tuple(None if t is None else t.detach().float().cpu() for t in compute())
    who = who or identity(cfg)  # a hub model downloaded just now has a snapshot
    if who is not None:
        path = _path([family, cfg.prompt, lengths, who])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            torch.save(list(out), tmp)
            os.replace(tmp, path)
        except OSError:
            pass
    return out
