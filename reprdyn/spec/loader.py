"""Load a spec: read and compose its files, apply `--set` overrides and environment variables,
validate it, and report every problem at once as `file:line:col: path: message`.

The pure stage (schema and cross-field rules, no I/O beyond the spec's files, no torch) runs first;
`reprdyn.runner.checks` (data headers, networks) runs after it unless `checks=False`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..errors import Issue, SpecError
from .compose import booleans_for_counts, compose, resolve_paths
from .identity import canonical, resolved, spec_hash, to_yaml
from .positions import blame_override, fmt_path, issue_at
from .positions import issues as pydantic_issues
from .resolve import apply_override, expand_env
from .rules import problems as rules
from .schema import Spec
from .text import NodeBudget, parse_yaml, plain, read
from .tree import allowed_env, inside, tree_of

__all__ = [
    "load",
    "load_spec",
    "validate_text",
    "locate",
    "canonical",
    "resolved",
    "spec_hash",
    "to_yaml",
]

DEFERRED = {"rules": "deferred"}  # the loader positions the rules' problems itself


def load(
    path: str | Path,
    overrides: tuple[str, ...] | list[str] = (),
    trust_code: bool = False,
    checks: bool = True,
    allow_env: tuple[str, ...] | list[str] = (),
) -> tuple[Spec, dict[str, str]]:
    """Read, compose and validate a spec file; return the spec and the text of every file read.

    The texts are keyed by path, the spec file first and then each base it extends. The spec is
    untrusted: it reads bases only inside its tree (`reprdyn.spec.tree`) and writes only there,
    and what more it may do is the caller's to grant: `trust_code` (`--trust-code`) for `python`
    models, which the spec must also ask for; `allow_env` (`--env`, with REPRDYN_ALLOW_ENV) for
    the environment variables its `${VAR}` may read; `overrides` (`--set`) for anything else.
    """
    path = Path(path)
    tree = tree_of(path)
    if path.exists() and not inside(path, tree):
        raise SpecError(
            [
                Issue(
                    str(path),
                    1,
                    1,
                    "",
                    f"this spec file is a link to a file outside its folder or repository "
                    f"({tree}); reprdyn reads a shared spec only inside its tree: give the real "
                    "path of the file if you trust it",
                )
            ]
        )
    sources: dict[str, str] = {}

    def parsed(p: Path) -> CommentedMap:
        text = read(p)
        sources[str(p)] = text
        return parse_yaml(text, str(p))

    data = compose(parsed(path), path, parsed, _fail_at, tree)
    grants = Grants(tree, trust_code, allowed_env(allow_env))
    return _validate(data, str(path), overrides, grants, checks), sources


def composed(path: str | Path) -> CommentedMap:
    """The spec file's position-carrying tree with its bases merged in (read inside its tree),
    not yet validated."""
    path = Path(path)

    def parsed(p: Path) -> CommentedMap:
        return parse_yaml(read(p), str(p))

    return compose(parsed(path), path, parsed, _fail_at, tree_of(path))


def locate(path: str | Path, at: tuple, message: str) -> Issue:
    """`message` positioned at field `at` of the spec file (a dataset named instead of indexed:
    ("datasets", name, field)); a field the file does not write is reported at its parent."""
    data = composed(path)
    loc = list(at)
    if len(loc) > 1 and loc[0] == "datasets" and isinstance(loc[1], str):
        names = [d.get("name") if isinstance(d, dict) else None for d in data.get("datasets") or []]
        loc[1] = names.index(loc[1]) if loc[1] in names else 0
    return issue_at(data, tuple(loc), message, str(path))


def load_spec(
    path: str | Path,
    overrides: tuple[str, ...] | list[str] = (),
    trust_code: bool = False,
    checks: bool = True,
    allow_env: tuple[str, ...] | list[str] = (),
) -> Spec:
    """Read and validate a spec file, with `--set PATH=VALUE` overrides; raise SpecError listing
    every problem.

    `checks=False` stops after the pure stage (the schema, no I/O beyond the spec's files, no
    torch); the default also runs `reprdyn.runner.checks`, which reads data headers and builds
    trainable networks.
    """
    return load(path, overrides, trust_code, checks, allow_env)[0]


def validate_text(
    text: str,
    file: str = "<spec>",
    overrides: tuple[str, ...] | list[str] = (),
    trust_code: bool = False,
    checks: bool = True,
    allow_env: tuple[str, ...] | list[str] = (),
) -> Spec:
    """Validate spec text as if it were the file `file` (default: in the current folder, where an
    `extends` in it resolves); the same grants as `load`."""
    tree = tree_of(file)
    data = compose(
        parse_yaml(text, file), Path(file), lambda p: parse_yaml(read(p), str(p)), _fail_at, tree
    )
    return _validate(
        data, file, overrides, Grants(tree, trust_code, allowed_env(allow_env)), checks
    )


def _fail_at(node, key, message: str):
    """A SpecError positioned at `node[key]` (a mapping key or a list index)."""
    file = getattr(node, "_src", "<spec>")
    if isinstance(node, CommentedSeq):
        line, col = node.lc.item(key)
    else:
        line, col = node.lc.value(key)
    return SpecError([Issue(file, line + 1, col + 1, "extends", message)])


@dataclass(frozen=True)
class Grants:
    """What the person running reprdyn allows a spec beyond its own tree."""

    tree: Path  # the folder the spec may read bases from and write into
    trust_code: bool = False  # --trust-code
    env: frozenset[str] = frozenset()  # --env NAME, REPRDYN_ALLOW_ENV


def _validate(
    data: CommentedMap, file: str, overrides, grants: Grants, checks: bool = True
) -> Spec:
    """The spec in `data`, or a SpecError holding every problem of the first stage that has any:
    environment variables, overrides and counts, the schema, the rules, code, the checks."""
    plain(data, NodeBudget(file))  # the alias budget first: nothing walks a bomb
    problems = expand_env(data, Spec, grants.env)
    if problems:
        raise SpecError([issue_at(data, loc, msg, file) for loc, msg in problems])
    set_paths = _override(data, overrides)

    def fail(found: list[tuple[tuple, str]]) -> SpecError:
        return SpecError(
            [blame_override(issue_at(data, loc, msg, file), set_paths) for loc, msg in found]
        )

    counts = resolve_paths(data, Spec, [loc for loc, _ in set_paths.values()], grants.tree)
    counts += [
        (loc, "expected a whole number, not true or false")
        for loc in booleans_for_counts(data, Spec)
    ]
    if counts:
        raise fail(counts)
    try:
        spec = Spec.model_validate(plain(data, NodeBudget(file)), context=DEFERRED)
    except ValidationError as e:
        found = pydantic_issues(e, data, file)
        raise SpecError([blame_override(i, set_paths) for i in found]) from None
    if broken := rules(spec):  # the cross-field rules, each at its place in the file
        raise fail(broken)
    problems = [
        (loc, "this spec runs its own Python code; pass --trust-code (trust_code=True) to allow it")
        for loc in _python_models(spec)
        if not grants.trust_code
    ]
    if not problems and checks:
        problems = second_stage(spec)  # files and networks
    if problems:
        raise SpecError([issue_at(data, loc, msg, file) for loc, msg in problems])
    if spec.sweep:
        _check_points(data, file, checks)
    return spec


# The second stage of validation reads data headers and builds networks, which sit above the spec
# layer; it is found by name, as the metric modules are, so the spec layer imports nothing above it.
SECOND_STAGE = "reprdyn.runner.checks"


def second_stage(spec) -> list:
    """The problems the files and networks a spec names have: (loc, message) pairs."""
    import importlib

    return importlib.import_module(SECOND_STAGE).problems(spec)


def _override(data: CommentedMap, overrides) -> dict[str, tuple[tuple, str]]:
    """Apply each `--set PATH=VALUE` to the tree; {the field path it wrote: (its loc, the
    expression)}, so problems with those values are blamed on the --set."""
    out = {}
    for expr in overrides:
        try:
            loc = apply_override(data, expr)
        except ValueError as e:
            raise SpecError([Issue("--set", 1, 1, "", str(e))]) from None
        out[fmt_path(loc, data)] = (loc, expr)
    return out


def _check_points(data: CommentedMap, file: str, checks: bool) -> None:
    """Validate every sweep value in place; a bad one is reported at the value, with what it
    broke."""
    import copy

    issues = []
    for path, values in data["sweep"].items():
        for i, value in enumerate(values):
            tree = copy.deepcopy(data)
            del tree["sweep"]
            where = issue_at(data, ("sweep", path, i), "", file)
            try:
                apply_override(tree, f"{path}={json.dumps(value)}")
                point = Spec.model_validate(plain(tree, NodeBudget(file)), context=DEFERRED)
                found = [issue_at(tree, loc, msg, file) for loc, msg in rules(point)]
                if checks and not found:
                    found = [issue_at(tree, loc, msg, file) for loc, msg in second_stage(point)]
            except ValueError as e:  # a bad path, or a ValidationError (a ValueError too)
                found = (
                    pydantic_issues(e, tree, file)
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


def _python_models(spec: Spec) -> list[tuple]:
    """Where the spec's `python` models are: ('model', 'kind') or ('models', name, 'kind')."""
    return [
        (("models", name) if name else ("model",)) + ("kind",)
        for name, cfg in spec.model_items()
        if cfg.kind == "python"
    ]
