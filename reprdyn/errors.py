"""Errors the user sees, and the two helpers every table lookup and suggestion goes through.

Nothing here imports more than the standard library, so the command line can
catch these classes without loading the pipeline.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class InputError(ValueError):
    """Something the spec points at is missing, unreadable or does not fit; the message says what
    to do. `at` is the spec field it concerns, e.g. ("datasets", "pics", "mask_folder") (a dataset
    by name), so the command line can report it at the field's file:line:col."""

    def __init__(self, message: str, at: tuple | None = None):
        super().__init__(message)
        self.at = at


class StoreError(Exception):
    """A store path is unusable (not a store, another spec's store, unreadable)."""


class QueryError(ValueError):
    """A query names a variable, dim or value the store does not have."""


@dataclass(frozen=True)
class Issue:
    """One problem in a spec, at `file:line:col` and a field path."""

    file: str
    line: int  # 1-based
    col: int  # 1-based
    path: str
    message: str
    detail: str = ""  # more for --verbose (a YAML parser's own words), never in str()

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.col}: {where}{self.message}"

    def verbose(self) -> str:
        return f"{self} ({self.detail})" if self.detail else str(self)


class SpecError(Exception):
    """A spec failed to load or validate; carries every issue found."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def describe(exc: BaseException) -> str:
    """One line for the user, with the last frames for the failure log."""
    import traceback

    tb = traceback.extract_tb(exc.__traceback__)[-3:]
    where = "; ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in tb)
    return f"{type(exc).__name__}: {exc} [{where}]"


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """'; did you mean 'x'?' for the closest choice, or '' when none is close."""
    near = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=cutoff)
    return f"; did you mean {near[0]!r}?" if near else ""


def lookup(table: Mapping, kind: str, what: str):
    """`table[kind]`, or a ValueError naming the valid kinds (the one table lookup of the
    package)."""
    if kind in table:
        return table[kind]
    raise ValueError(
        f"unknown {what} {kind!r}; expected one of {', '.join(map(str, table))}"
        + did_you_mean(kind, table)
    )
