"""Layer patterns: glob patterns over dotted module names, for `layers:`, dense sets and
`reprdyn layers --match`.

`*` matches within one name (`up_blocks.*.resnets.0` matches `up_blocks.1.resnets.0`, not
`up_blocks.1.attentions.0.resnets.0`), `**` matches any number of names (`**.to_q`), `?` one
character of a name, and `[...]` one character from a set. A pattern never matches the pseudo-
layers `output` and `pixels`: they are named outright. Plain strings; no torch.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .kinds import OUTPUT, PIXELS

SPECIAL = frozenset("*?[")


def is_pattern(name: str) -> bool:
    return any(c in SPECIAL for c in name)


def _class_end(pattern: str, i: int) -> int:
    """Where the character set opened at `i` closes (a leading `!` or `]` belongs to it), or -1:
    then `[` is a plain character."""
    j = i + 1
    j += pattern.startswith("!", j)
    j += pattern.startswith("]", j)
    return pattern.find("]", j)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**.", i):  # any number of leading names, none included
            out.append(r"(?:[^.]+\.)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(r".*")
            i += 2
        elif c == "*":
            out.append(r"[^.]*")
            i += 1
        elif c == "?":
            out.append(r"[^.]")
            i += 1
        elif c == "[" and _class_end(pattern, i) > 0:
            end = _class_end(pattern, i)
            body = pattern[i + 1 : end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(pattern: str, name: str) -> bool:
    """Whether `name` is matched by `pattern` (a plain name matches itself only)."""
    if not is_pattern(pattern):
        return pattern == name
    return name not in (OUTPUT, PIXELS) and _regex(pattern).match(name) is not None


def expand(entries: list[str], names: list[str]) -> tuple[list[str], list[int]]:
    """`entries` with each pattern replaced by the `names` it matches, in their order, and no name
    twice (its first place wins); and the indices of the patterns that match nothing."""
    out, seen, empty = [], set(), []
    for i, entry in enumerate(entries):
        found = [n for n in names if matches(entry, n)] if is_pattern(entry) else [entry]
        if not found:
            empty.append(i)
        for n in found:
            if n not in seen:
                seen.add(n)
                out.append(n)
    return out, empty


def has_patterns(spec) -> bool:
    """Whether any of a spec's layers or dense-set members is a pattern."""
    members = [m for ms in (spec.dense or {}).values() for m in ms]
    return any(is_pattern(x) for x in [*spec.layers, *members])
