"""Where a problem is in a spec file: pydantic's error locations and the rules' (location,
message) pairs, mapped onto the YAML tree's lines and columns (and the file, where a value came
from a base the spec extends), with a "did you mean" for unknown keys.
"""

from __future__ import annotations

import json
import typing

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..errors import Issue, did_you_mean
from .annotations import is_model as _is_model
from .annotations import members as _members
from .schema import Spec


def issue_at(data, loc: tuple, message: str, file: str) -> Issue:
    line, col, _, src = _position(data, loc)
    return Issue(src or file, line, col, fmt_path(loc, data), message)


def blame_override(issue: Issue, set_paths: dict[str, tuple[tuple, str]]) -> Issue:
    """An issue about a value that a --set wrote is reported against that --set (`set_paths`:
    {field path: (loc, expression)})."""
    for path, (_, expr) in set_paths.items():
        if (
            issue.path == path
            or issue.path.startswith(path + ".")
            or issue.path.startswith(path + "[")
        ):
            return Issue(f"--set {expr}", 1, 1, issue.path, issue.message)
    return issue


def _src(node, key=None) -> str | None:
    """The file a node (or its entry `key`) was written in; a merged mapping knows it per key."""
    per_key = getattr(node, "_key_src", None)
    if key is not None and per_key and key in per_key:
        return per_key[key]
    return getattr(node, "_src", None)


def _position(root, loc: tuple) -> tuple[int, int, list, str | None]:
    """Walk `loc` through the YAML tree; return (line, col, consumed loc parts, file).

    Parts that are not keys (union tags such as 'molrg-optimal') are skipped.
    Positions point at the value, or at the key for an unknown key. The file
    is the one the value was written in, which may be a base the spec extends.
    """
    node, line, col, path, file = root, 0, 0, [], _src(root)
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, CommentedMap) and part in node:
            try:
                ln, cl = node.lc.key(part) if last else node.lc.value(part)
                if last and not isinstance(node[part], (CommentedMap, CommentedSeq)):
                    ln, cl = node.lc.value(part)
            except (KeyError, TypeError):  # written by --set: no position in the file
                ln, cl = line, col
            file = _src(node, part) or file
            line, col, node = ln, cl, node[part]
            path.append(part)
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, col = node.lc.item(part)
            file = _src(node) or file
            node = node[part]
            path.append(part)
        elif isinstance(node, (CommentedMap, CommentedSeq)) and hasattr(node, "lc") and not path:
            line, col = node.lc.line, node.lc.col
    return line + 1, col + 1, path, file


def _key_position(root, loc: tuple) -> tuple[int, int, str | None]:
    """Position of the key itself (for unknown keys), and its file."""
    node = root
    for part in loc[:-1]:
        if isinstance(node, CommentedMap) and part in node:
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            node = node[part]
    if isinstance(node, CommentedMap) and loc[-1] in node:
        try:
            ln, cl = node.lc.key(loc[-1])
            return ln + 1, cl + 1, _src(node, loc[-1])
        except (KeyError, TypeError):
            pass
    line, col, _, file = _position(root, loc)
    return line, col, file


def fmt_path(loc: tuple, root) -> str:
    out, node = "", root
    for part in loc:
        if isinstance(node, dict) and part in node:
            out += f".{part}" if out else str(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if part < len(node) else None
        elif isinstance(part, str) and not isinstance(node, (dict, list)):
            out += f".{part}" if out else part
    return out


def _step(tp, part):
    """The type one loc part below `tp`: a union tag, a list item or a field."""
    members = _members(tp)
    for tag, arg in members:
        if tag is not None and part == tag:
            return arg
    for _, arg in members:
        if isinstance(part, int) and typing.get_origin(arg) is list:
            return typing.get_args(arg)[0]
        if _is_model(arg) and part in arg.model_fields:
            return arg.model_fields[part].annotation
    return None


def _fields_at(loc: tuple) -> list[str]:
    """Field names of the pydantic model reached by `loc` (for 'did you mean')."""
    tp = Spec
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    models = [arg for _, arg in _members(tp) if _is_model(arg)]
    return list(models[0].model_fields) if len(models) == 1 else []


def issues(err: ValidationError, root: CommentedMap, file: str) -> list[Issue]:
    issues = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        kind, msg = e["type"], e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if kind == "extra_forbidden":
            line, col, src = _key_position(root, loc)
            fields = _fields_at(loc[:-1])
            msg = f"unknown key {loc[-1]!r}" + did_you_mean(loc[-1], fields)
            if fields:
                msg += f" (valid keys: {', '.join(fields)})"
        elif kind == "union_tag_invalid":
            line, col, _, src = _position(root, loc + ("kind",))
            tags = [t.strip("'") for t in e["ctx"]["expected_tags"].split(", ")]
            msg = (
                f"unknown kind {e['ctx']['tag']!r}; expected one of {', '.join(tags)}"
                + did_you_mean(e["ctx"]["tag"], tags)
            )
            loc = loc + ("kind",)
        elif kind == "union_tag_not_found":
            line, col, _, src = _position(root, loc)
            if e["ctx"].get("discriminator") == "'kind'":
                msg = "missing key 'kind' (it says which variant this is)"
            else:
                msg = "expected a list of sigmas, or a mapping {start, stop, num, scale}"
        elif kind == "missing":
            line, col, _, src = _position(root, loc[:-1])
            msg = f"missing required key {loc[-1]!r}"
        else:
            line, col, _, src = _position(root, loc)
            if (
                "input" in e
                and not isinstance(e["input"], (dict, list))
                and str(e["input"]) not in msg
            ):
                msg += f" (got {_short(e['input'])})"
        issues.append(Issue(src or file, line, col, fmt_path(loc, root), msg))
    return sorted(set(issues), key=lambda i: (i.line, i.col, i.path))


def _short(v) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else repr(v)
    return s if len(s) <= 60 else s[:57] + "..."
