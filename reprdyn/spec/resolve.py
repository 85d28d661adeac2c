"""Turn a parsed spec tree into what gets validated: `${VAR}` expansion and `--set` overrides.

Both work on the position-carrying YAML tree, so errors still name a place: an unset variable points
at the value that uses it, and a bad override is reported against the `--set` expression that wrote
it.
"""

from __future__ import annotations

import os
import re

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def expand_env(
    node, tp, allowed: frozenset[str] = frozenset(), env=None
) -> list[tuple[tuple, str]]:
    """Expand ${VAR} and ${VAR:-default} in path fields (store, cache, data paths, model ids and
    files), in place, for the variables in `allowed` alone: a shared spec sees the environment of
    the person running it only with their consent (`--env NAME`, or REPRDYN_ALLOW_ENV). Nowhere
    else, so a spec cannot copy the environment into a probe name or any other value the store
    records.

    Returns (loc, message) for each variable not allowed, each allowed one that is unset and has
    no default, and each variable written outside a path field.
    """
    from .compose import strings
    from .tree import ALLOW_ENV

    env = os.environ if env is None else env
    problems: list[tuple[tuple, str]] = []
    for parent, key, loc, mark in list(strings(node, tp)):
        value = parent[key]
        if "${" not in value or not VAR.search(value):
            continue
        if not mark:
            problems.append(
                (
                    loc,
                    "environment variables (${...}) are expanded only in path fields (store, "
                    "compute.cache, a dataset's path, root or mask_folder, a model's id or file); "
                    "write the value itself here",
                )
            )
            continue
        refused = [m.group(1) for m in VAR.finditer(value) if m.group(1) not in allowed]
        if refused:
            name = refused[0]
            problems.append(
                (
                    loc,
                    f"this spec reads your environment variable {name}, which needs your "
                    f"consent: pass --env {name} (or list it in {ALLOW_ENV}), or give the value "
                    f"yourself with --set {dotted(loc)}=VALUE",
                )
            )
            continue

        def sub(m, loc=loc):
            if m.group(1) in env:
                return env[m.group(1)]
            if m.group(2) is not None:
                return m.group(2)
            problems.append(
                (
                    loc,
                    f"environment variable {m.group(1)} is not set and has no default; set it, "
                    f"or write ${{{m.group(1)}:-default}}",
                )
            )
            return m.group(0)

        parent[key] = VAR.sub(sub, value)
    return problems


def dotted(loc: tuple) -> str:
    """('datasets', 0, 'path') -> 'datasets[0].path', as --set takes it (`parse_path`'s inverse)."""
    return "".join(
        f"[{p}]" if isinstance(p, int) else f".{p}" if i else str(p) for i, p in enumerate(loc)
    )


def parse_path(path: str) -> tuple:
    """'datasets[0].n_train' -> ('datasets', 0, 'n_train')."""
    parts, pos = [], 0
    for m in PART.finditer(path):
        if m.start() != pos and path[pos : m.start()] != ".":
            raise ValueError(
                f"cannot read the path {path!r}; write it like model.train.epochs or "
                "datasets[0].n_train"
            )
        parts.append(int(m.group(2)) if m.group(2) is not None else m.group(1))
        pos = m.end()
    if not parts or pos != len(path):
        raise ValueError(
            f"cannot read the path {path!r}; write it like model.train.epochs or "
            "datasets[0].n_train"
        )
    return tuple(parts)


def apply_override(root: CommentedMap, expr: str) -> tuple:
    """Apply one `path=value` (value in YAML: 512, 1e-3, [0, 0.4], {kind: ridge}); return the
    path."""
    path, eq, raw = expr.partition("=")
    if not eq:
        raise ValueError(f"--set {expr!r}: expected PATH=VALUE, for example model.train.epochs=5")
    path = path.strip()
    # a sweep key is itself a path: sweep.datasets[0].n_train=[64, 256]
    if path.startswith("sweep."):
        parse_path(path[len("sweep.") :])
        loc = ("sweep", path[len("sweep.") :])
    else:
        loc = parse_path(path)
    try:
        value = YAML(typ="safe", pure=True).load(raw) if raw.strip() else None
    except YAMLError as e:
        raise ValueError(
            f"--set {expr!r}: the value is not valid YAML ({str(e).splitlines()[0]})"
        ) from None
    node = root
    for i, part in enumerate(loc[:-1]):
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise ValueError(f"--set {expr!r}: {path.split('[')[0]} has no item [{part}]")
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise ValueError(f"--set {expr!r}: {'.'.join(map(str, loc[:i]))} is not a mapping")
            if part not in node:
                node[part] = CommentedMap()
            node = node[part]
    last = loc[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ValueError(f"--set {expr!r}: no item [{last}] to replace")
    elif not isinstance(node, dict):
        raise ValueError(f"--set {expr!r}: {'.'.join(map(str, loc[:-1]))} is not a mapping")
    node[last] = value
    return loc
