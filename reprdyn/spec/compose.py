"""Spec composition and portable paths, on the position-carrying YAML tree.

`extends: base.yaml` (or a list) is resolved against the spec file's folder and
deep-merged: mappings merge key by key, lists and scalars replace. A base must be a
.yaml file inside the spec's tree (`tree`), named by a relative path; nothing
outside the tree is opened, or even looked for. Every node
remembers the file it was written in (`_src`, and `_key_src` per key for merged
mappings), so a validation error inside a base file still names that file.

Relative paths in path fields (marked `json_schema_extra={"x-path": ...}` in the
schema) resolve against the folder of the file that wrote them; a path given
with `--set` resolves against the current folder.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .annotations import is_model, members, strip
from .tree import SPEC_SUFFIXES, inside

MAX_FILES = 32  # files read through `extends`, all together
MAX_CHAIN = 16  # bases nested in bases


def tag(node, file: str) -> None:
    """Mark every container in a freshly parsed tree with the file it came from."""
    if isinstance(node, (CommentedMap, CommentedSeq)) and getattr(node, "_src", None) is None:
        node._src = file
        for v in node.values() if isinstance(node, dict) else node:
            tag(v, file)


def compose(
    data: CommentedMap,
    path: Path,
    read: Callable[[Path], CommentedMap],
    fail,
    tree: Path,
    chain: tuple[Path, ...] = (),
    budget: list | None = None,
) -> CommentedMap:
    """Resolve `extends` in `data` (read from `path`) recursively; return the merged tree.

    `fail(node, key, message)` builds the positioned error to raise; bases are read only inside
    `tree` (`reprdyn.spec.tree`).
    """
    budget = [MAX_FILES] if budget is None else budget
    tag(data, str(path))
    chain = (*chain, path)
    if "extends" not in data:
        return data
    ext = data["extends"]
    names = [ext] if isinstance(ext, str) else list(ext) if isinstance(ext, list) else None
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise fail(
            data,
            "extends",
            "expected a file name, or a list of file names, relative to this spec's folder",
        )
    merged = None
    for i, name in enumerate(names):
        where = (ext, i) if isinstance(ext, list) else (data, "extends")
        base = _base(name, path, tree, lambda message, where=where: fail(*where, message))
        seen = [Path(os.path.abspath(p)) for p in chain]
        if Path(os.path.abspath(base)) in seen:
            loop = " -> ".join(
                str(p) for p in (*chain[seen.index(Path(os.path.abspath(base))) :], base)
            )
            raise fail(
                *where,
                f"extends cycle: {loop}; a spec cannot extend itself, directly or through bases",
            )
        if len(chain) >= MAX_CHAIN:
            raise fail(*where, f"extends chain is more than {MAX_CHAIN} files deep")
        if not base.is_file():
            raise fail(
                *where,
                f"base spec {name!r} not found (looked for {base}); paths in `extends` are "
                "relative to the folder of the file that names them",
            )
        budget[0] -= 1
        if budget[0] < 0:
            raise fail(*where, f"extends reads more than {MAX_FILES} files in all")
        got = compose(read(base), base, read, fail, tree, chain, budget)
        merged = got if merged is None else merge(merged, got)
    del data["extends"]
    return merge(merged, data)


def _base(name: str, referrer: Path, tree: Path, fail) -> Path:
    """The base file `name` names from `referrer`, if a spec may read it: a relative path to a
    .yaml file that stays inside `tree`, symlinks followed; otherwise raise `fail(message)`."""
    rule = f"a base must be a .yaml file inside the spec's folder or repository ({tree})"
    if name.startswith("~") or Path(name).is_absolute() or Path(name).drive:
        raise fail(
            f"extends takes a path relative to this file's folder; {rule}, so absolute paths and "
            "~ are refused"
        )
    if Path(name).suffix.lower() not in SPEC_SUFFIXES:
        raise fail(f"extends reads only .yaml or .yml files; {rule}")
    base = referrer.parent / name
    if not inside(base, tree):
        raise fail(f"{name!r} is outside this spec's tree; {rule}")
    return base


def merge(base: CommentedMap, over: CommentedMap) -> CommentedMap:
    """Deep merge: `over` wins; mappings merge key by key, lists and scalars replace.

    Positions and source files are carried per key, so errors find where a value was written.
    """
    out = CommentedMap()
    out._src, out._key_src = over._src, {}
    out.lc.line, out.lc.col = over.lc.line, over.lc.col
    for src in (base, over):
        for key, value in src.items():
            if (
                src is over
                and isinstance(out.get(key), CommentedMap)
                and isinstance(value, CommentedMap)
            ):
                value = merge(out[key], value)
            out[key] = value
            if src.lc.data and key in src.lc.data:
                out.lc.add_kv_line_col(key, list(src.lc.data[key]))
            out._key_src[key] = (getattr(src, "_key_src", None) or {}).get(key, src._src)
    return out


# --- portable paths ------------------------------------------------------------


def strings(node, tp, loc: tuple = ()):
    """Every string value of the tree: (its container, its key, its loc, its path mark), where the
    mark is the schema's `x-path` (True or "maybe") for path fields and None for other strings."""
    if isinstance(node, dict):
        model = _pick_model(tp, node)
        for k, v in list(node.items()):
            field = model.model_fields.get(k) if model is not None else None
            if model is not None and field is None:
                continue  # an unknown key: the schema reports it
            extra = field.json_schema_extra if field is not None else None
            mark = extra.get("x-path") if isinstance(extra, dict) else None
            sub = field.annotation if field is not None else _container_arg(tp, dict)
            if isinstance(v, str):
                yield node, k, (*loc, k), mark
            else:
                yield from strings(v, sub, (*loc, k))
    elif isinstance(node, list):
        item_tp = _container_arg(tp, list)
        for i, v in enumerate(node):
            if isinstance(v, str):
                yield node, i, (*loc, i), None
            else:
                yield from strings(v, item_tp, (*loc, i))


def booleans_for_counts(node, tp, loc: tuple = ()):
    """The locs of `true` / `false` written where the schema wants a whole number (and no bool):
    pydantic would read them as 1 and 0."""
    if isinstance(node, bool):
        kinds = [strip(arg) for _, arg in members(tp)]
        if int in kinds and bool not in kinds:
            yield loc
    elif isinstance(node, dict):
        model = _pick_model(tp, node)
        for k, v in node.items():
            field = model.model_fields.get(k) if model is not None else None
            if model is None or field is not None:
                yield from booleans_for_counts(
                    v, field.annotation if field else _container_arg(tp, dict), (*loc, k)
                )
    elif isinstance(node, list):
        item_tp = _container_arg(tp, list)
        for i, v in enumerate(node):
            yield from booleans_for_counts(v, item_tp, (*loc, i))


MAX_PATH, MAX_NAME = 4096, 255  # what file systems take: a whole path, one of its parts


def resolve_paths(
    node, tp, set_locs: list[tuple] = (), tree: Path | None = None
) -> list[tuple[tuple, str]]:
    """Make relative paths in path fields absolute, in place, against the folder of their file.

    `x-path: true` fields always resolve; `x-path: maybe` (a hub id or a local
    path) resolve only when the path exists there; `x-path: write` (the store, the
    checkpoint cache) must, when a spec file writes them, be relative paths that stay
    inside the spec's `tree` (the person running reprdyn chooses any other place with
    --store or --set). Returns (loc, message) for empty paths, paths no file system
    takes (too long) and writes out of the tree, which are left as written.
    """
    problems = []
    for parent, key, loc, mark in list(strings(node, tp)):
        value = parent[key]
        if not mark:
            continue
        if not value.strip():
            problems.append((loc, "an empty path; give a file or folder, relative to this file"))
            continue
        longest = max((len(part) for part in Path(value).parts), default=0)
        if len(value) > MAX_PATH or longest > MAX_NAME:
            problems.append(
                (
                    loc,
                    f"this path or hub id is too long ({len(value):,} characters, a part of "
                    f"{longest:,}); file systems take at most {MAX_PATH:,} in all and {MAX_NAME} "
                    "per part",
                )
            )
            continue
        from_cli = any(loc[: len(s)] == s for s in set_locs)
        folder = Path.cwd() if from_cli else Path(_file_of(parent, key)).parent
        if mark == "write" and not from_cli and tree is not None:
            if message := _write_problem(value, folder, tree, loc):
                problems.append((loc, message))
                continue
        parent[key] = absolute(value, folder, must_exist=mark == "maybe")
    return problems


def _write_problem(value: str, folder: Path, tree: Path, loc: tuple) -> str | None:
    """Why a spec may not write to `value` (None if it may): only relative paths that stay inside
    its tree, symlinks followed."""
    how = (
        "choose the place yourself with --store PATH"
        if loc == ("store",)
        else "choose it yourself with --set compute.cache=PATH or REPRDYN_CACHE"
    )
    rule = f"a spec writes only inside its own folder or repository ({tree}); {how}"
    if value.startswith("~") or Path(value).is_absolute():
        return f"an absolute path: {rule}"
    if not inside(folder / value, tree):
        return f"{value!r} leads out of the spec's tree: {rule}"
    return None


def absolute(value: str, folder: Path, must_exist: bool = False) -> str:
    """`value` joined onto `folder` (after ~ expansion) unless it is absolute.

    With `must_exist` (a hub id or a path), a value that is not there stays as
    written, unless it is plainly a path (./, ../): then it is a missing folder.
    """
    p = Path(os.path.expanduser(value))
    if p.is_absolute():
        return str(p)
    joined = Path(os.path.abspath(folder / p))
    plainly_local = value.startswith(("./", "../", ".\\", "..\\"))
    return value if must_exist and not joined.exists() and not plainly_local else str(joined)


def _file_of(node, key) -> str:
    per_key = getattr(node, "_key_src", None) or {}
    return per_key.get(key) or getattr(node, "_src", None) or "<spec>"


def _pick_model(tp, node: dict):
    """The pydantic model `node` is an instance of: the only one, or the union member tagged by its
    kind."""
    models = [(tag, arg) for tag, arg in members(tp) if is_model(arg)]
    if len(models) > 1 and "kind" in node:
        models = [(tag, arg) for tag, arg in models if tag == node["kind"]]
    return models[0][1] if len(models) == 1 else None


def _container_arg(tp, origin):
    """The item type of a list (or value type of a dict) among `tp`'s members."""
    for _, arg in members(tp):
        if typing.get_origin(arg) is origin:
            return typing.get_args(arg)[-1]
    return None
