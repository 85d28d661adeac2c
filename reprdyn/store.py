"""Store stage: the zarr v3 layout, provenance, region writes, and opening a store for queries.

Layout (one group per dataset):
    /                                  root attrs: provenance (spec, hash, versions, commit, time)
    /datasets/<name>/data              sample labels and splits, ground-truth extras (MoLRG bases U)
    /datasets/<name>/metrics           accuracy, class_accuracy, csnr, csnr_theory, ensemble_*,
    best_sigma /datasets/<name>/features/<layer>  features (sigma, input, sample, channel)

Each task writes its own region of arrays pre-allocated with NaN, so no two
tasks share a chunk.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import StoreError

# xarray and zarr are imported where arrays are read or written, not to look at a store
if TYPE_CHECKING:
    import xarray as xr
    import zarr

FORMAT = "reprdyn-store"
FORMAT_VERSION = 1
KEY_PACKAGES = ("torch", "numpy", "xarray", "zarr", "scikit-learn", "pydantic")


def group(dataset: str, part: str, layer: str | None = None) -> str:
    return f"datasets/{dataset}/{part}" + (f"/{layer}" if layer else "")


# --- provenance ----------------------------------------------------------------


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
        "spec_resolved": json.dumps(
            resolved if resolved is not None else canonical, sort_keys=True
        ),
        "spec_bases": json.dumps(bases or {}),
        "spec_hash": spec_hash,
        "spec_canonical": json.dumps(canonical, sort_keys=True),
        "reprdyn_version": _versions()["reprdyn"],
        "versions": _versions(),
        "git_commit": _git_commit(),
        "hardware": hardware(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


# --- creating and writing ----------------------------------------------------


def _open(store: str | Path, sub: str | None = None) -> zarr.Group:
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
    return attrs if isinstance(attrs, dict) and attrs.get("format") == FORMAT else None


# root attributes that hold JSON text, and what that JSON must be (the rest are plain values)
JSON_ATTRS = {"spec_canonical": dict, "spec_resolved": dict, "spec_bases": dict, "sweep": dict}


def require_attrs(path: str | Path) -> dict:
    """Root attributes of the reprdyn store at `path`, or a StoreError that says it is none, or
    which attribute is damaged."""
    attrs = read_attrs(path)
    if attrs is None:
        raise StoreError(f"{path}: not a reprdyn store (no such path, or no reprdyn provenance)")
    for name, kind in JSON_ATTRS.items():
        if name not in attrs:
            continue
        try:
            value = json.loads(attrs[name]) if isinstance(attrs[name], str) else None
        except ValueError:
            value = None
        if not isinstance(value, kind):
            raise StoreError(
                f"{path}: the store attribute {name!r} is damaged (not the JSON it was written "
                "as); this store cannot be read: run its spec again into a new store"
            )
    if not isinstance(attrs.get("spec_hash"), str) or not isinstance(attrs.get("spec", ""), str):
        raise StoreError(f"{path}: the store attribute 'spec_hash' or 'spec' is damaged")
    if "sweep" in attrs:
        sweep = json.loads(attrs["sweep"])
        for p in sweep.get("points", []):
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


MANIFEST = "manifest.jsonl"  # one line per finished task, appended after its region is written
FAILURES = "failed.jsonl"  # one line per failed task of the latest run
PLAN = "plan.json"  # the task list of the spec this store belongs to
LOCK = ".lock"


class StoreLocked(StoreError):
    """Another process is running into this store."""


class StoreLock:
    """An exclusive advisory lock on a store, held for a whole run.

    The OS drops it when the holding process dies, so a killed run never leaves
    a stale lock behind. The holder writes its process id into the lock file, so
    a run that waits (`wait`) can say whom it waits for (`on_wait`).
    """

    def __init__(
        self, path: str | Path, wait: bool = False, on_wait: Callable[[str], None] | None = None
    ):
        self.path, self.wait, self.on_wait, self.fh = Path(path), wait, on_wait, None
        self.new = False  # whether taking the lock made the store's folder

    def discard_if_new(self) -> None:
        """Remove the folder this lock made, if nothing but the lock is in it (a run refused before
        it wrote anything leaves no trace)."""
        if self.new and [c.name for c in self.path.iterdir()] == [LOCK]:
            (self.path / LOCK).unlink()
            self.path.rmdir()

    def __enter__(self) -> StoreLock:
        import fcntl

        if self.path.exists() and not self.path.is_dir():
            raise StoreError(
                f"{self.path}: this is a file, not a reprdyn store; choose another --store path"
            )
        self.new = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.path / LOCK, "a+")
        except OSError as e:
            raise StoreError(
                f"{self.path}: cannot write the run lock ({e.strerror or e}); a run writes into "
                "its store, so it needs a folder it can write (read a read-only store with query, "
                "ls, plot or report)"
            ) from None
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not self.wait:
                self.fh.close()
                raise StoreLocked(
                    f"{self.path}: another reprdyn run ({self._holder()}) is writing to this "
                    "store; wait for it, or pass --wait to queue behind it"
                ) from None
            if self.on_wait:
                self.on_wait(f"waiting for {self._holder()} to finish writing {self.path}")
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"{os.getpid()} {socket.gethostname()}\n")
        self.fh.flush()
        return self

    def _holder(self) -> str:
        try:
            pid, host = (self.path / LOCK).read_text().split()[:2]
            return f"process {pid} on {host}"
        except (OSError, ValueError):
            return "another process"

    def __exit__(self, *exc) -> None:
        import fcntl

        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def write_plan(path: str | Path, tasks) -> None:
    rows = [
        {
            "key": t.key,
            "task": t.label,
            "stage": t.stage,
            "dataset": t.dataset,
            "params": dict(t.params),
            "deps": list(t.deps),
        }
        for t in tasks
    ]
    tmp = Path(path) / (PLAN + ".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(Path(path) / PLAN)  # atomic


def record_failures(path: str | Path, failures: list[dict]) -> None:
    tmp = Path(path) / (FAILURES + ".tmp")
    tmp.write_text("".join(json.dumps(f) + "\n" for f in failures))
    tmp.replace(Path(path) / FAILURES)


def sweep_points(attrs: dict, path: str | Path) -> list[tuple[dict, Path]]:
    """(values, store path) of each point of a sweep store; [] for an ordinary store. Point
    folders lie inside the sweep store."""
    if "sweep" not in attrs:
        return []
    return [(p["values"], _inside(path, p["store"])) for p in json.loads(attrs["sweep"])["points"]]


def point_label(values: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in values.items())


def task_status(path: str | Path) -> list[dict]:
    """Every planned task with status done, failed (with its error) or pending; for a sweep store,
    every point's tasks, labelled with the point (a point not started yet shows one pending row)."""
    path = Path(path)
    attrs = require_attrs(path)
    if "sweep" in attrs:
        out = []
        for values, sub in sweep_points(attrs, path):
            label = point_label(values)
            if read_attrs(sub) is None or not (sub / PLAN).exists():
                out.append(
                    {
                        "key": label,
                        "task": f"[{label}] (not started)",
                        "stage": "point",
                        "deps": [],
                        "status": "pending",
                        "error": None,
                    }
                )
                continue
            out += [{**r, "task": f"[{label}] {r['task']}"} for r in task_status(sub)]
        return out
    if not (path / PLAN).exists():
        raise StoreError(f"{path}: this store has no task plan (written by an older reprdyn?)")
    done = done_keys(path)
    failed = {}
    try:
        if (path / FAILURES).exists():
            for line in (path / FAILURES).read_text().splitlines():
                f = json.loads(line)
                failed[f["key"]] = f["error"]
        rows = json.loads((path / PLAN).read_text())
        redo: set[str] = set()  # not done, or downstream of a task that is not
        for row in rows:
            if row["key"] not in done or redo & set(row["deps"]):
                redo.add(row["key"])
    except (ValueError, KeyError, TypeError) as e:
        raise StoreError(f"{path}: the task plan or the failure list is damaged ({e})") from None
    out = []
    for row in rows:
        status = "failed" if row["key"] in failed else "pending" if row["key"] in redo else "done"
        out.append({**row, "status": status, "error": failed.get(row["key"])})
    return out


def manifest(path: str | Path) -> tuple[list[dict], list[int]]:
    """(the finished tasks' lines, the line numbers that cannot be read) of a store's manifest.

    A last line without its newline is a write an interrupted run never finished: that task is
    simply redone, and the line does not count as unreadable.
    """
    f = Path(path) / MANIFEST
    if not f.exists():
        return [], []
    try:
        text = f.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise StoreError(f"{f}: cannot read the manifest ({e})") from None
    lines = text.split("\n")
    torn = lines.pop()  # '' after a final newline; else the half-written last line
    rows, bad = [], []
    for i, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("key"), str):
                raise ValueError("no key")
            rows.append(row)
        except ValueError:
            bad.append(i)
    del torn
    return rows, bad


def done_keys(path: str | Path) -> set[str]:
    """Content keys of the tasks whose results the store holds. A manifest line that cannot be
    read (other than a torn last line) is an error naming the line: which tasks finished is then
    unknown, and guessing could lose results or keep wrong ones."""
    rows, bad = manifest(path)
    if bad:
        raise StoreError(
            f"{Path(path) / MANIFEST}:{bad[0]}: this manifest line cannot be read"
            + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
            + "; `reprdyn verify STORE --repair` keeps the tasks whose results are in the store "
            "and lets the next run redo the rest"
        )
    return {r["key"] for r in rows}


def mark_done(path: str | Path, key: str, label: str) -> None:
    """Record a finished task; called only after its region is fully written. A torn last line
    left by a killed run is cut off first, so lines never run together."""
    line = json.dumps(
        {"key": key, "task": label, "at": _dt.datetime.now(_dt.timezone.utc).isoformat()}
    )
    f = Path(path) / MANIFEST
    with open(f, "a+b") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        if end:
            fh.seek(end - 1)
            if fh.read(1) != b"\n":  # a torn line: keep everything up to its start
                fh.seek(0)
                data = fh.read()
                fh.truncate(data.rfind(b"\n") + 1)
        fh.seek(0, os.SEEK_END)
        fh.write((line + "\n").encode())


def write_manifest(path: str | Path, rows: list[dict]) -> None:
    """Replace the manifest with these lines, atomically (a repair)."""
    tmp = Path(path) / (MANIFEST + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(Path(path) / MANIFEST)


def check_destination(path: str | Path, prov: dict) -> bool:
    """Raise unless `path` is free, empty, or this same spec's store; True when it is that store."""
    path = Path(path)
    if not path.exists():
        return False
    old = read_attrs(path)
    if old is None:
        what = "folder" if path.is_dir() else "file"
        if not (path.is_dir() and not [c for c in path.iterdir() if c.name != LOCK]):
            raise StoreError(
                f"{path}: this {what} exists and is not a reprdyn store; choose another --store "
                "path or remove it yourself"
            )
        return False
    if old.get("spec_hash") != prov["spec_hash"]:
        fields = diff_fields(json.loads(old["spec_canonical"]), json.loads(prov["spec_canonical"]))
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
                if child.name != LOCK:
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
    }
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


def _tidy(ds: xr.Dataset) -> xr.Dataset:
    """Plain object dtype for string coords (zarr v3 reads them as StringDType)."""
    fix = {c: ds[c].astype(object) for c in ds.coords if ds[c].dtype.kind == "T"}
    return ds.assign_coords(fix) if fix else ds


def open_group(path: str | Path, grp: str) -> xr.Dataset:
    import xarray as xr

    check_layout(path, grp)
    try:  # lazy, no dask graph
        return _tidy(xr.open_zarr(str(path), group=grp, consolidated=False, chunks=None))
    except Exception as e:  # noqa: BLE001 - metadata a store's own writer never makes
        raise damaged(path, grp, e) from None


def load_group(path: str | Path, grp: str) -> xr.Dataset:
    """A (small) group read into memory variable by variable, so damage names the variable."""
    ds = open_group(path, grp)
    for v in list(ds.variables):
        try:
            ds[v].load()
        except Exception as e:  # noqa: BLE001 - a truncated or corrupt chunk
            raise damaged(path, f"variable {v!r} of {grp}", e) from None
    return ds


class Results:
    """A read-only view of a store: `res["molrg"]` is that dataset's metric cube.

    `res.features(dataset, layer)` gives the feature cube, `res.data(dataset)` the stored data
    extras, `res.attrs` the provenance. For a sweep store, `res["molrg"]` joins the points' cubes
    along one dim per swept parameter, and `res.point(n_train=64)` is one point's own Results.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.attrs = attrs = require_attrs(self.path)
        self.points = [
            (v, Results(sub))
            for v, sub in sweep_points(attrs, self.path)
            if read_attrs(sub) is not None
        ]
        self.sweep_dims = json.loads(attrs["sweep"])["dims"] if "sweep" in attrs else []
        if self.sweep_dims:
            self.datasets = self.points[0][1].datasets if self.points else []
        else:
            root = _open(self.path)
            self.datasets = sorted(root["datasets"].group_keys()) if "datasets" in root else []

    def _check(self, dataset: str) -> None:
        if dataset not in self.datasets:
            raise StoreError(
                f"unknown dataset {dataset!r} in {self.path}; expected one of {self.datasets}"
            )

    def __getitem__(self, dataset: str) -> xr.Dataset:
        import xarray as xr

        self._check(dataset)
        if not self.sweep_dims:
            return load_group(self.path, group(dataset, "metrics"))
        parts = [
            res[dataset].expand_dims({d: [values[d]] for d in self.sweep_dims})
            for values, res in self.points
        ]
        return xr.combine_by_coords(
            parts,
            combine_attrs="drop_conflicts",
            data_vars="all",
            coords="different",
            compat="no_conflicts",
            join="outer",
        )

    def point(self, **values) -> Results:
        """One sweep point's Results, chosen by its values (e.g. n_train=64)."""
        for v, res in self.points:
            if all(str(v.get(k)) == str(x) for k, x in values.items()) and set(values) <= set(v):
                return res
        raise StoreError(
            f"no sweep point {point_label(values)} in {self.path}; points: "
            f"{'; '.join(point_label(v) for v, _ in self.points) or 'none yet'}"
        )

    def _whole(self, what: str) -> None:
        if self.sweep_dims:
            raise StoreError(
                f"{self.path} is a sweep over {', '.join(self.sweep_dims)}: {what} differ between "
                f"points; pick one with res.point({self.sweep_dims[0]}=...)"
            )

    def layers(self, dataset: str) -> list[str]:
        self._check(dataset)
        if self.sweep_dims:
            return self.points[0][1].layers(dataset)
        g = _open(self.path, group(dataset, "features"))
        return sorted(g.group_keys())

    def features(self, dataset: str, layer: str) -> xr.Dataset:
        self._whole("features")
        if layer not in self.layers(dataset):
            raise StoreError(
                f"unknown layer {layer!r} for dataset {dataset!r}; expected one of "
                f"{self.layers(dataset)}"
            )
        return open_group(self.path, group(dataset, "features", layer))

    def data(self, dataset: str) -> xr.Dataset:
        self._whole("data")
        self._check(dataset)
        return open_group(self.path, group(dataset, "data"))

    def __repr__(self) -> str:
        sweep = f", sweep={self.sweep_dims}" if self.sweep_dims else ""
        head = f"Results({str(self.path)!r}, datasets={self.datasets}"
        return f"{head}, spec_hash={self.attrs['spec_hash'][:12]}{sweep})"


def open_store(path: str | Path) -> Results:
    return Results(path)
