"""A spec file's text and its YAML tree: read within size limits, parsed as YAML 1.2 with every
key's and item's line and column kept, expanded within a budget of values and nesting.

ruamel.yaml's round-trip loader keeps positions and follows YAML 1.2 number rules (`1e-3` is a
float). Every failure is a SpecError at the place it happened.

A spec is untrusted input, so the text is first composed into YAML nodes (linear time) and the node
graph is checked before anything is constructed: only YAML's plain data tags (no `!!binary`, no
`!!python/...`, no `!local` tags), keys that are plain scalars (a mapping used as a key sends
ruamel's constructor into exponential time: 100 s for 16 nested `{`), and a bounded depth.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError, YAMLWarning
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..errors import Issue, SpecError

MAX_BYTES = 1_000_000  # a spec is a small text file
MAX_NODES = 100_000  # values after expanding YAML aliases (a guard against alias bombs)
MAX_DEPTH = 64  # nesting levels
MAX_TOKENS = 20_000  # values the YAML scanner may read (it takes about 60 us each)
_TOKEN = re.compile(r"[,\n:\[\]{}]|- ")
EMPTY = "the file is empty; a spec is a mapping with spec_version, name, model, datasets and sigma"


def fail(file: str, message: str, line: int = 1, col: int = 1) -> SpecError:
    """A SpecError about a whole file (or one place in it, when line and col are known)."""
    return SpecError([Issue(file, line, col, "", message)])


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def parse_yaml(text: str, file: str) -> CommentedMap:
    """Parse YAML text into a position-carrying mapping, or raise SpecError."""
    if "\x00" in text:
        raise fail(file, "this is a binary file, not a YAML spec")
    if len(text) > MAX_BYTES:
        raise fail(file, f"file is {len(text)} bytes; a spec must be under {MAX_BYTES}")
    tokens = len(_TOKEN.findall(text))
    if tokens > MAX_TOKENS:
        raise fail(
            file,
            f"the spec holds about {tokens:,} values; a spec holds at most {MAX_TOKENS:,} (write a "
            "long sigma grid as {start, stop, num, scale})",
        )
    data = _load(text, file)
    if data is None:
        raise fail(file, EMPTY)
    if not isinstance(data, CommentedMap):
        what = "list" if isinstance(data, list) else type(data).__name__
        raise fail(file, f"a spec must be a mapping of keys (key: value), not a {what}")
    return data


# the tags of YAML's own data types, which every spec value resolves to; any other tag, written
# explicitly, asks a YAML library to build something else (bytes, Python objects, a user class)
PLAIN_TAGS = {
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge", "timestamp")
}


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml") else tag


def check_nodes(root, file: str) -> None:
    """Refuse, at its position, any node with a tag other than plain data, any key that is not a
    scalar, and nesting deeper than MAX_DEPTH; each node is visited once (aliases are not
    expanded here: `NodeBudget` bounds their expansion)."""
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        where = node.start_mark.line + 1, node.start_mark.column + 1
        if depth > MAX_DEPTH:
            raise fail(file, f"nested more than {MAX_DEPTH} levels deep", *where)
        if str(node.tag) not in PLAIN_TAGS:
            raise fail(
                file,
                f"YAML tag {_short(str(node.tag))} is not allowed in a spec: a spec holds plain "
                "values (strings, numbers, booleans, lists, mappings); remove the tag",
                *where,
            )
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if not isinstance(key, ScalarNode):
                    k = key.start_mark.line + 1, key.start_mark.column + 1
                    raise fail(file, "a key must be a plain name, not a list or a mapping", *k)
                stack += [(key, depth + 1), (value, depth + 1)]
        elif isinstance(node, SequenceNode):
            stack += [(v, depth + 1) for v in node.value]


def explain(e: MarkedYAMLError):
    """(where, what to do, the parser's own words) for a YAML syntax error: the common mistakes in
    plain words, at the place to fix (an unclosed bracket or quote is reported where it opens);
    the library's own text for anything else (and, with --verbose, after the hint)."""
    ctx, prob = e.context or "", e.problem or ""
    raw = " ".join(x for x in (ctx, prob) if x) or "invalid YAML"
    found = re.search(r"but found '(.*?)'", prob)
    dup = re.search(r'duplicate key "(.*?)"', prob)
    hints = [
        (
            "flow sequence" in ctx,
            e.context_mark,
            "this [ is never closed, or an item lacks its "
            "comma: end the list with ] and separate its items with commas",
        ),
        (
            "flow mapping" in ctx,
            e.context_mark,
            "this { is never closed, or a pair lacks its "
            "comma: end the mapping with } and separate its pairs with commas",
        ),
        (
            "quoted scalar" in ctx,
            e.context_mark,
            "this quote is never closed: end the value with the same quote it starts with",
        ),
        ("'\\t'" in prob, e.problem_mark, "a tab: YAML indents with spaces only (use spaces)"),
        (
            prob.startswith("mapping values are not allowed"),
            e.problem_mark,
            "a ': ' inside a "
            "value, or a key indented deeper than the keys above it: quote the value ('a: b'), or "
            "line the key up with its neighbours",
        ),
        (
            dup is not None,
            e.problem_mark,
            f"the key {dup and dup.group(1)!r} appears twice in "
            "this mapping (duplicate key); keep one",
        ),
        (
            "block mapping" in ctx and found is not None and found.group(1) == "-",
            e.problem_mark,
            "a list item ('- ') where a key was expected: indent the list under its key",
        ),
        (
            "block mapping" in ctx and found is not None and found.group(1) in "]}",
            e.problem_mark,
            f"a closing {found and found.group(1)} with no opening bracket: remove it",
        ),
        (
            "block mapping" in ctx and "<block end>" in prob,
            e.problem_mark,
            "this line is indented differently from the keys above it: indent every key of one "
            "mapping by the same number of spaces",
        ),
        (
            "could not find expected ':'" in prob,
            e.context_mark,
            "a line that is not 'key: value': add ': ' after the key, or quote the text",
        ),
    ]
    for hit, mark, hint in hints:
        if hit:
            return mark or e.problem_mark, hint, f"the parser: {raw}"
    return e.problem_mark or e.context_mark, raw, ""


def _load(text: str, file: str):
    """ruamel's tree of `text`, each of its failures as a positioned SpecError."""
    try:
        y = _yaml()
        with warnings.catch_warnings():  # a re-defined &anchor: YAML 1.2 lets the later one win
            warnings.simplefilter("ignore", YAMLWarning)
            root = y.compose(text)
        if root is None:
            return None
        check_nodes(root, file)
        return y.constructor.construct_document(root)
    except SpecError:
        raise
    except RecursionError:
        msg = f"YAML nested too deeply; a spec needs a few levels, at most {MAX_DEPTH}"
        raise fail(file, msg) from None
    except MarkedYAMLError as e:
        mark, msg, raw = explain(e)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        issue = Issue(file, line, col, "", f"YAML syntax error: {msg}", detail=raw)
        raise SpecError([issue]) from None
    except YAMLError as e:
        raise fail(file, f"YAML error: {e}") from None
    except ValueError:  # an integer too long for Python to read (over 4,300 digits)
        run = max(re.finditer(r"\d+", text), key=lambda m: len(m.group()), default=None)
        line = text.count("\n", 0, run.start()) + 1 if run else 1
        col = run.start() - text.rfind("\n", 0, run.start()) if run else 1
        digits = len(run.group()) if run else 0
        msg = f"a number of {digits:,} digits cannot be read; give a sensible value"
        raise fail(file, msg, line, col) from None


class NodeBudget:
    """How many more YAML values a spec may expand to, and how deep it may nest."""

    def __init__(self, file: str):
        self.file, self.left = file, MAX_NODES

    def spend(self, node, depth: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise fail(
                self.file,
                f"the spec expands to more than {MAX_NODES:,} values (YAML aliases used as a "
                "bomb?)",
            )
        if depth > MAX_DEPTH:
            line, col = (node.lc.line + 1, node.lc.col + 1) if hasattr(node, "lc") else (1, 1)
            raise fail(self.file, f"nested more than {MAX_DEPTH} levels deep", line, col)


def plain(node, budget: NodeBudget, depth: int = 0):
    """ruamel containers -> plain dicts/lists for pydantic, expanding aliases within a budget."""
    budget.spend(node, depth)
    if isinstance(node, dict):
        return {str(k): plain(v, budget, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v, budget, depth + 1) for v in node]
    return node


def read(path: Path) -> str:
    """The text of one spec file, or a SpecError saying why it cannot be read."""
    file = str(path)
    if path.exists() and not path.is_dir() and not path.is_file():
        raise fail(
            file,
            "this is not a regular file (a device, a pipe or a socket); give the path of a .yaml "
            "file",
        )
    if path.is_dir():
        raise fail(file, "this is a folder, not a spec file; give the path of a .yaml file")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise fail(file, f"file is {size:,} bytes; a spec must be under {MAX_BYTES:,}")
        with open(path, "rb") as fh:  # never more than the cap, whatever the size says
            raw = fh.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise fail(file, f"file is over {MAX_BYTES:,} bytes; a spec must be under")
    except OSError as e:
        raise fail(file, f"cannot read spec: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(file, "this is a binary file, not a UTF-8 YAML spec") from None
