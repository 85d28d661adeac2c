"""Load a spec from YAML 1.2 with positions, so every error reads `file:line:col: path: message`.

ruamel.yaml's round-trip loader keeps line/column for every key and item and follows YAML 1.2 number
rules (`1e-3` is a float). Validation errors from pydantic are mapped back onto those positions and
reported all at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import Issue, SpecError, did_you_mean
from .annotations import is_model as _is_model
from .annotations import members as _members
from .compose import booleans_for_counts, compose, resolve_paths
from .resolve import apply_override, expand_env
from .rules import problems as rules
from .schema import Spec

DEFERRED = {"rules": "deferred"}  # the loader positions the rules' problems itself

MAX_BYTES = 1_000_000  # a spec is a small text file
MAX_NODES = 100_000  # values after expanding YAML aliases (a guard against alias bombs)
MAX_DEPTH = 64  # nesting levels
MAX_TOKENS = 20_000  # values the YAML scanner may read (it takes about 60 us each)
_TOKEN = re.compile(r"[,\n:\[\]{}]|- ")


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def parse_yaml(text: str, file: str) -> CommentedMap:
    """Parse YAML text into a position-carrying mapping, or raise SpecError."""
    if "\x00" in text:
        raise SpecError([Issue(file, 1, 1, "", "this is a binary file, not a YAML spec")])
    if len(text) > MAX_BYTES:
        raise SpecError(
            [Issue(file, 1, 1, "", f"file is {len(text)} bytes; a spec must be under {MAX_BYTES}")]
        )
    tokens = len(_TOKEN.findall(text))
    if tokens > MAX_TOKENS:
        raise SpecError(
            [
                Issue(
                    file,
                    1,
                    1,
                    "",
                    f"the spec holds about {tokens:,} values; a spec holds at most {MAX_TOKENS:,} "
                    "(write a long sigma grid as {start, stop, num, scale})",
                )
            ]
        )
    try:
        data = _yaml().load(text)
    except RecursionError:
        raise SpecError(
            [
                Issue(
                    file,
                    1,
                    1,
                    "",
                    f"YAML nested too deeply; a spec needs a few levels, at most {MAX_DEPTH}",
                )
            ]
        ) from None
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = " ".join(x for x in (e.context, e.problem) if x) or "invalid YAML"
        if "\t" in text and "tab" in str(e).lower() or "found character '\\t'" in str(e):
            msg += " (YAML forbids tabs for indentation; use spaces)"
        raise SpecError([Issue(file, line, col, "", f"YAML syntax error: {msg}")]) from None
    except YAMLError as e:
        raise SpecError([Issue(file, 1, 1, "", f"YAML error: {e}")]) from None
    except ValueError:  # an integer too long for Python to read (over 4,300 digits)
        run = max(re.finditer(r"\d+", text), key=lambda m: len(m.group()), default=None)
        line = text.count("\n", 0, run.start()) + 1 if run else 1
        col = run.start() - text.rfind("\n", 0, run.start()) if run else 1
        raise SpecError(
            [
                Issue(
                    file,
                    line,
                    col,
                    "",
                    f"a number of {len(run.group()) if run else 0:,} digits cannot be read; give "
                    "a sensible value",
                )
            ]
        ) from None
    if data is None:
        raise SpecError(
            [
                Issue(
                    file,
                    1,
                    1,
                    "",
                    "the file is empty; a spec is a mapping with spec_version, name, model, "
                    "datasets and sigma",
                )
            ]
        )
    if not isinstance(data, CommentedMap):
        what = "list" if isinstance(data, list) else type(data).__name__
        raise SpecError(
            [Issue(file, 1, 1, "", f"a spec must be a mapping of keys (key: value), not a {what}")]
        )
    return data


class _NodeBudget:
    """How many more YAML values a spec may expand to, and how deep it may nest."""

    def __init__(self, file: str):
        self.file, self.left = file, MAX_NODES

    def spend(self, node, depth: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise SpecError(
                [
                    Issue(
                        self.file,
                        1,
                        1,
                        "",
                        f"the spec expands to more than {MAX_NODES:,} values (YAML aliases used as "
                        "a bomb?)",
                    )
                ]
            )
        if depth > MAX_DEPTH:
            line, col = (node.lc.line + 1, node.lc.col + 1) if hasattr(node, "lc") else (1, 1)
            raise SpecError(
                [Issue(self.file, line, col, "", f"nested more than {MAX_DEPTH} levels deep")]
            )


def _plain(node, budget: _NodeBudget, depth: int = 0):
    """ruamel containers -> plain dicts/lists for pydantic, expanding aliases within a budget."""
    budget.spend(node, depth)
    if isinstance(node, dict):
        return {str(k): _plain(v, budget, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, budget, depth + 1) for v in node]
    return node


def _read(path: Path) -> str:
    """The text of one spec file, or a SpecError saying why it cannot be read."""
    file = str(path)
    if path.exists() and not path.is_dir() and not path.is_file():
        raise SpecError(
            [
                Issue(
                    file,
                    1,
                    1,
                    "",
                    "this is not a regular file (a device, a pipe or a socket); give the path of a "
                    ".yaml file",
                )
            ]
        )
    if path.is_dir():
        raise SpecError(
            [
                Issue(
                    file,
                    1,
                    1,
                    "",
                    "this is a folder, not a spec file; give the path of a .yaml file",
                )
            ]
        )
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SpecError(
                [
                    Issue(
                        file,
                        1,
                        1,
                        "",
                        f"file is {path.stat().st_size:,} bytes; a spec must be "
                        f"under {MAX_BYTES:,}",
                    )
                ]
            )
        with open(path, "rb") as fh:  # never more than the cap, whatever the size says
            raw = fh.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise SpecError(
                [Issue(file, 1, 1, "", f"file is over {MAX_BYTES:,} bytes; a spec must be under")]
            )
    except OSError as e:
        raise SpecError([Issue(file, 1, 1, "", f"cannot read spec: {e.strerror or e}")]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(
            [Issue(file, 1, 1, "", "this is a binary file, not a UTF-8 YAML spec")]
        ) from None


def load(
    path: str | Path,
    overrides: tuple[str, ...] | list[str] = (),
    trust_code: bool = False,
    checks: bool = True,
) -> tuple[Spec, dict[str, str]]:
    """Read, compose and validate a spec file; return the spec and the text of every file read.

    The texts are keyed by path, the spec file first and then each base it extends.
    `trust_code` is the caller's consent (`--trust-code`) to `python` models,
    which the spec must also ask for; without both, nothing is imported.
    """
    path = Path(path)
    sources: dict[str, str] = {}

    def read(p: Path) -> CommentedMap:
        text = _read(p)
        sources[str(p)] = text
        return parse_yaml(text, str(p))

    data = compose(read(path), path, read, _fail_at)
    return _validate(data, str(path), overrides, trust_code, checks), sources


def locate(path: str | Path, at: tuple, message: str) -> Issue:
    """`message` positioned at field `at` of the spec file (a dataset named instead of indexed:
    ("datasets", name, field)); a field the file does not write is reported at its parent."""
    path = Path(path)
    data = compose(
        parse_yaml(_read(path), str(path)), path, lambda p: parse_yaml(_read(p), str(p)), _fail_at
    )
    loc = list(at)
    if len(loc) > 1 and loc[0] == "datasets" and isinstance(loc[1], str):
        names = [d.get("name") if isinstance(d, dict) else None for d in data.get("datasets") or []]
        loc[1] = names.index(loc[1]) if loc[1] in names else 0
    return _issue_at(data, tuple(loc), message, str(path))


def load_spec(
    path: str | Path,
    overrides: tuple[str, ...] | list[str] = (),
    trust_code: bool = False,
    checks: bool = True,
) -> Spec:
    """Read and validate a spec file, with `--set PATH=VALUE` overrides; raise SpecError listing
    every problem.

    `checks=False` stops after the pure stage (the schema, no I/O beyond the spec's files, no
    torch); the default also runs `reprdyn.checks`, which reads data headers and builds trainable
    networks.
    """
    return load(path, overrides, trust_code, checks)[0]


def validate_text(
    text: str,
    file: str = "<spec>",
    overrides: tuple[str, ...] | list[str] = (),
    trust_code: bool = False,
    checks: bool = True,
) -> Spec:
    """Validate spec text; an `extends` in it resolves against the current folder."""
    data = compose(
        parse_yaml(text, file), Path(file), lambda p: parse_yaml(_read(p), str(p)), _fail_at
    )
    return _validate(data, file, overrides, trust_code, checks)


def _fail_at(node, key, message: str):
    """A SpecError positioned at `node[key]` (a mapping key or a list index)."""
    file = getattr(node, "_src", "<spec>")
    if isinstance(node, CommentedSeq):
        line, col = node.lc.item(key)
    else:
        line, col = node.lc.value(key)
    return SpecError([Issue(file, line + 1, col + 1, "extends", message)])


def _validate(
    data: CommentedMap, file: str, overrides, trust_code: bool = False, checks: bool = True
) -> Spec:
    _plain(data, _NodeBudget(file))  # the alias budget first: nothing walks a bomb
    problems = expand_env(data, Spec)
    if problems:
        raise SpecError([_issue_at(data, loc, msg, file) for loc, msg in problems])
    set_paths, set_locs = {}, []
    for expr in overrides:
        try:
            loc = apply_override(data, expr)
        except ValueError as e:
            raise SpecError([Issue("--set", 1, 1, "", str(e))]) from None
        set_paths[_fmt_path(loc, data)] = expr
        set_locs.append(loc)
    counts = resolve_paths(data, Spec, set_locs)
    counts += [
        (loc, "expected a whole number, not true or false")
        for loc in booleans_for_counts(data, Spec)
    ]
    if counts:
        raise SpecError(
            [_blame_override(_issue_at(data, loc, msg, file), set_paths) for loc, msg in counts]
        )
    try:
        spec = Spec.model_validate(_plain(data, _NodeBudget(file)), context=DEFERRED)
    except ValidationError as e:
        raise SpecError([_blame_override(i, set_paths) for i in _issues(e, data, file)]) from None
    broken = rules(spec)  # the cross-field rules, each at its place in the file
    if broken:
        raise SpecError(
            [_blame_override(_issue_at(data, loc, msg, file), set_paths) for loc, msg in broken]
        )
    problems = [
        (loc, "this spec runs its own Python code; pass --trust-code (trust_code=True) to allow it")
        for loc in _python_models(spec)
        if not trust_code
    ]
    if not problems and checks:
        from ..checks import problems as check  # files and networks: the second stage

        problems = check(spec)
    if problems:
        raise SpecError([_issue_at(data, loc, msg, file) for loc, msg in problems])
    if spec.sweep:
        _check_points(data, file, checks)
    return spec


def _check_points(data: CommentedMap, file: str, checks: bool) -> None:
    """Validate every sweep value in place; a bad one is reported at the value, with what it
    broke."""
    import copy

    issues = []
    for path, values in data["sweep"].items():
        for i, value in enumerate(values):
            tree = copy.deepcopy(data)
            del tree["sweep"]
            where = _issue_at(data, ("sweep", path, i), "", file)
            try:
                apply_override(tree, f"{path}={json.dumps(value)}")
                point = Spec.model_validate(_plain(tree, _NodeBudget(file)), context=DEFERRED)
                found = [_issue_at(tree, loc, msg, file) for loc, msg in rules(point)]
                if checks and not found:
                    from ..checks import problems as check

                    found = [_issue_at(tree, loc, msg, file) for loc, msg in check(point)]
            except ValueError as e:  # a bad path, or a ValidationError (a ValueError too)
                found = (
                    _issues(e, tree, file)
                    if isinstance(e, ValidationError)
                    else [Issue(file, 0, 0, "", str(e))]
                )
            for f in found:
                what = f"{f.path}: {f.message}" if f.path else f.message
                issues.append(
                    Issue(
                        where.file,
                        where.line,
                        where.col,
                        f"sweep.{path}[{i}]",
                        f"with {path} = {value!r}: {what}",
                    )
                )
    if issues:
        raise SpecError(issues)


def _issue_at(data, loc: tuple, message: str, file: str) -> Issue:
    line, col, _, src = _position(data, loc)
    return Issue(src or file, line, col, _fmt_path(loc, data), message)


def _blame_override(issue: Issue, set_paths: dict[str, str]) -> Issue:
    """An issue about a value that a --set wrote is reported against that --set."""
    for path, expr in set_paths.items():
        if (
            issue.path == path
            or issue.path.startswith(path + ".")
            or issue.path.startswith(path + "[")
        ):
            return Issue(f"--set {expr}", 1, 1, issue.path, issue.message)
    return issue


def _python_models(spec: Spec) -> list[tuple]:
    """Where the spec's `python` models are: ('model', 'kind') or ('models', name, 'kind')."""
    return [
        (("models", name) if name else ("model",)) + ("kind",)
        for name, cfg in spec.model_items()
        if cfg.kind == "python"
    ]


# --- mapping pydantic errors onto YAML positions ----------------------------


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


def _fmt_path(loc: tuple, root) -> str:
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


def _issues(err: ValidationError, root: CommentedMap, file: str) -> list[Issue]:
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
        issues.append(Issue(src or file, line, col, _fmt_path(loc, root), msg))
    return sorted(set(issues), key=lambda i: (i.line, i.col, i.path))


def _short(v) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


# --- identity ----------------------------------------------------------------


def canonical(spec: Spec) -> dict:
    """The spec's canonical form: validated values, defaults filled, grid expanded.

    `store`, `compute` and `trust_code` are left out: where results go, what
    hardware runs them and who vouched for the code do not change what they are.
    """
    d = spec.model_dump(mode="json", exclude={"store", "compute", "trust_code"})
    d["sigma"] = spec.sigmas
    return d


def resolved(spec: Spec) -> dict:
    """The spec with every default filled in, as plain data that validates back to the same spec."""
    return spec.model_dump(mode="json", exclude_none=True)


def to_yaml(data: dict) -> str:
    import io

    y = YAML(typ="safe", pure=True)
    y.default_flow_style = None
    y.sort_base_mapping_type_on_output = False
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def spec_hash(spec: Spec) -> str:
    blob = json.dumps(canonical(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
