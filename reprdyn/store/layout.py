"""A store's layout: its root attributes, one group per dataset, arrays allocated NaN-filled and
written a task's region at a time, and the checks that a store is what it says it is.

    /                                  root attributes: provenance (spec, hash, versions, hardware)
    /manifest.jsonl, plan.json, failed.jsonl, .lock   the ledger (reprdyn.store.ledger) and lock
    /datasets/<name>/data              each sample's label and split; MoLRG's true bases U
    /datasets/<name>/metrics           the metric cube (reprdyn.store.cube)
    /datasets/<name>/features/<layer>  pooled features ([model,] replicate, sigma, input, sample,
                                       channel)
    /points/<hash>.zarr                a sweep's points, each an ordinary store

Each task writes its own chunks of arrays pre-allocated with NaN, so no two tasks share a chunk.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StoreError
from .lock import LOCK_FILES
from .provenance import FORMAT, JSON_ATTRS, decoded, diff_fields

# xarray and zarr are imported where arrays are read or written, not to look at a store
if TYPE_CHECKING:
    import xarray as xr
    import zarr


def group(dataset: str, part: str, layer: str | None = None) -> str:
    return f"datasets/{dataset}/{part}" + (f"/{layer}" if layer else "")


# --- provenance ----------------------------------------------------------------


def open_group(store: str | Path, sub: str | None = None) -> zarr.Group:
    import zarr

    g = zarr.open_group(str(store), mode="r", use_consolidated=False)
    return g[sub] if sub else g


def consolidate(path: str | Path) -> None:
    """Consolidate metadata once, at the end of a run (readers here never depend on it)."""
    import warnings

    import zarr

    with warnings.catch_warnings():
        # zarr warns that consolidated metadata is not in the v3 spec yet
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(path))


def read_attrs(path: str | Path) -> dict | None:
    """Root attributes of a reprdyn store, or None where `path` holds none.

    Read from the root group's zarr.json alone, so asking what a folder is does not load zarr.
    The spec, its bases and a sweep's points come back as objects, whichever format wrote them.
    """
    try:
        meta = json.loads((Path(path) / "zarr.json").read_text())
    except (OSError, ValueError):
        return None
    attrs = (
        meta.get("attributes")
        if isinstance(meta, dict) and meta.get("node_type") == "group"
        else None
    )
    ok = isinstance(attrs, dict) and attrs.get("format") == FORMAT
    return decoded(attrs) if ok else None


def require_attrs(path: str | Path) -> dict:
    """Root attributes of the reprdyn store at `path`, or a StoreError that says it is none, or
    which attribute is damaged."""
    attrs = read_attrs(path)
    if attrs is None:
        raise StoreError(f"{path}: not a reprdyn store (no such path, or no reprdyn provenance)")
    for name in JSON_ATTRS:
        if name in attrs and not isinstance(attrs[name], dict):
            raise StoreError(
                f"{path}: the store attribute {name!r} is damaged (not the JSON object it was "
                "written as); this store cannot be read: run its spec again into a new store"
            )
    if not isinstance(attrs.get("spec_hash"), str) or not isinstance(attrs.get("spec", ""), str):
        raise StoreError(f"{path}: the store attribute 'spec_hash' or 'spec' is damaged")
    if "sweep" in attrs:
        for p in attrs["sweep"].get("points", []):
            _inside(path, p.get("store") if isinstance(p, dict) else None)
    return attrs


def _inside(path: str | Path, sub) -> Path:
    """A sweep point's folder, which must lie inside the sweep store: a store's attributes never
    send a read elsewhere."""
    if not isinstance(sub, str) or not sub:
        raise StoreError(f"{path}: a sweep point of this store names no folder; it is damaged")
    p = Path(sub)
    if p.is_absolute() or ".." in p.parts:
        raise StoreError(
            f"{path}: a sweep point names the folder {sub!r}, outside the sweep store; points "
            "live under its points/ folder, so this store was edited or damaged"
        )
    return Path(path) / p


def check_layout(path: str | Path, grp: str) -> None:
    """Every array of a group is as long along each dim as that dim's coordinate (read from the
    arrays' metadata alone), so no read allocates what an edited shape claims."""
    root = Path(path) / grp
    meta = {}
    for child in root.iterdir() if root.is_dir() else []:
        try:
            m = json.loads((child / "zarr.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(m, dict) and m.get("node_type") == "array":
            meta[child.name] = m
    sizes = {
        n: m["shape"][0]
        for n, m in meta.items()
        if m.get("dimension_names") == [n] and isinstance(m.get("shape"), list)
    }
    for n, m in meta.items():
        dims, shape = m.get("dimension_names") or [], m.get("shape")
        if not isinstance(shape, list) or len(shape) != len(dims):
            raise StoreError(f"{path}: {grp}/{n} has damaged metadata (shape and dims disagree)")
        for d, size in zip(dims, shape):
            if d in sizes and size != sizes[d]:
                raise StoreError(
                    f"{path}: {grp}/{n} is {size:,} long along {d!r}, but the store has "
                    f"{sizes[d]:,} {d} values; the store was edited or damaged"
                )


def damaged(path: str | Path, what: str, e: Exception) -> StoreError:
    """The error for a part of a store that cannot be read (a truncated or corrupt chunk)."""
    return StoreError(
        f"{path}: {what} cannot be read ({type(e).__name__}: {e}); the store is damaged: run its "
        "spec again with --force, or into a new store"
    )


def sweep_points(attrs: dict, path: str | Path) -> list[tuple[dict, Path]]:
    """(values, store path) of each point of a sweep store; [] for an ordinary store.

    A store is untrusted input: a point's folder must lie inside the sweep store, symlinks
    followed, and a point written there must carry the spec hash the sweep recorded for it, so a
    point swapped for (or linked to) another store's is refused, not read as this sweep's."""
    if "sweep" not in attrs:
        return []
    return [(p["values"], _point(path, p)) for p in attrs["sweep"]["points"]]


def _point(path: str | Path, point: dict) -> Path:
    folder = _inside(path, point.get("store"))
    label = point_label(point.get("values") or {})
    real, root = Path(os.path.realpath(folder)), Path(os.path.realpath(path))
    if root not in real.parents:
        raise StoreError(
            f"{path}: sweep point {label} ({point.get('store')}) leads out of the sweep store "
            "(a symlink); a sweep reads only its own points"
        )
    own = read_attrs(folder)
    if own is not None and own.get("spec_hash") != point.get("spec_hash"):
        raise StoreError(
            f"{path}: sweep point {label} ({point.get('store')}) holds a store of another spec "
            f"(spec hash {str(own.get('spec_hash'))[:16]}, the sweep expects "
            f"{str(point.get('spec_hash'))[:16]}); it was replaced or edited, so it is not read"
        )
    return folder


def point_label(values: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in values.items())


def check_destination(path: str | Path, prov: dict) -> bool:
    """Raise unless `path` is free, empty, or this same spec's store; True when it is that store."""
    path = Path(path)
    if not path.exists():
        return False
    old = read_attrs(path)
    if old is None:
        what = "folder" if path.is_dir() else "file"
        if not (path.is_dir() and not [c for c in path.iterdir() if c.name not in LOCK_FILES]):
            raise StoreError(
                f"{path}: this {what} exists and is not a reprdyn store; choose another --store "
                "path or remove it yourself"
            )
        return False
    if old.get("spec_hash") != prov["spec_hash"]:
        fields = diff_fields(old["spec_canonical"], prov["spec_canonical"])
        raise StoreError(
            f"{path}: this store was written by a different spec; differing fields:\n  "
            + "\n  ".join(fields or ["(spec hashes differ)"])
            + "\nuse another --store path for the new spec"
        )
    return True


def create(path: str | Path, prov: dict, fresh: bool = False) -> None:
    """Start a store at `path`, or reopen this spec's store to resume it.

    Refuses to clobber anything that is not a store of this same spec. With
    `fresh`, this spec's existing store is emptied first.
    """
    import zarr

    path = Path(path)
    if check_destination(path, prov):
        if not fresh:
            return
        else:
            for child in path.iterdir():  # only ever a store of this same spec; the lock file stays
                if child.name not in LOCK_FILES:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
    root = zarr.open_group(str(path), mode="a")
    root.attrs.update(prov)


def update_attrs(path: str | Path, prov: dict) -> None:
    """Replace the provenance of an existing store (a sweep store that grows)."""
    import zarr

    zarr.open_group(str(path), mode="a").attrs.update(prov)


def allocate(
    path: str | Path, grp: str, template: xr.Dataset, chunks: dict[str, dict[str, int]]
) -> None:
    """Write a NaN-filled template for `grp`; `chunks` maps variable -> {dim: chunk}.

    Arrays already there with the template's dims and shape are kept as they are, with whatever
    finished tasks wrote into them: only missing arrays are made. An array of another shape is an
    error (this store's layout is not this spec's).
    """
    import zarr

    encoding = {
        v: {"chunks": tuple(c.get(d, template[v].sizes[d]) for d in template[v].dims)}
        for v, c in chunks.items()
        if v in template
    } | no_fill(template)
    try:
        have = dict(zarr.open_group(str(path), path=grp, mode="r").arrays())
    except (FileNotFoundError, KeyError, ValueError, zarr.errors.GroupNotFoundError):
        have = {}
    if not have:
        template.to_zarr(str(path), group=grp, mode="w", consolidated=False, encoding=encoding)
        return
    missing = []
    for v in template.data_vars:
        if v not in have:
            missing.append(v)
            continue
        dims = tuple(have[v].metadata.dimension_names or ())
        if dims != template[v].dims or tuple(have[v].shape) != template[v].shape:
            raise StoreError(
                f"{path}: {grp}/{v} is {dict(zip(dims, have[v].shape))}, but this spec makes it "
                f"{dict(template[v].sizes)}; this store was written another way: use a new store"
            )
    if missing:
        part = template[missing]
        enc = {v: encoding[v] for v in missing if v in encoding}
        part.to_zarr(str(path), group=grp, mode="a", consolidated=False, encoding=enc)


def no_fill(ds: xr.Dataset) -> dict:
    """The encoding that keeps a fill value off every coordinate (CF: coordinates have none)."""
    return {c: {"_FillValue": None} for c in ds.coords}


def write_region(path: str | Path, grp: str, part: xr.Dataset) -> None:
    """Write `part` into the region of `grp` that its index coordinates pick out.

    A variable with no dims (a single-model scalar) is written into its array directly.
    """
    import zarr

    scalars = [v for v in part.data_vars if not part[v].dims]
    for v in scalars:
        zarr.open_array(f"{path}/{grp}/{v}", mode="r+")[...] = part[v].values
    part = part.drop_vars(scalars)
    if not part.data_vars:
        return
    keep = set(part.dims)
    drop = [c for c in part.coords if c not in keep or part[c].dims != (c,)]
    part.drop_vars(drop).to_zarr(str(path), group=grp, region="auto", mode="r+", consolidated=False)


class RowWriter:
    """Buffers (B, C) row blocks of one feature array and writes whole chunks.

    Memory is bounded by one chunk per array, whatever the dataset size.
    """

    def __init__(self, array: zarr.Array, prefix: tuple, chunk: int):
        self.array, self.prefix, self.chunk = array, prefix, chunk
        self.start, self.parts = 0, []

    def add(self, start: int, rows: np.ndarray) -> None:
        if not self.parts:
            self.start = start
        self.parts.append(rows.astype(np.float32))
        if sum(len(p) for p in self.parts) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            block = np.concatenate(self.parts)  # (rows, C)
            self.array[(*self.prefix, slice(self.start, self.start + len(block)))] = block
            self.parts = []


# --- reading -----------------------------------------------------------------
