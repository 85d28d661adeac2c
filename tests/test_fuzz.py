"""A property-based fuzzer of the spec loader, seeded and bounded (hypothesis).

It mutates the shipped specs the way a hostile or careless collaborator might: values of other
types, YAML tags, deep nesting, aliases, paths that climb out of the tree or into the environment,
huge values, unicode, deleted lines. Every mutant goes through `reprdyn validate` in a folder of
its own, beside a secret it must never read, and must give either a valid spec or exit 2 with
`file:line:col`: no traceback, no exit 1, under 2 s, no secret in the output and nothing written.
Mutants built from a known attack (a tag, an escape, an unconsented variable) must be refused.

The default profile (250 mutants) takes a few seconds; `pytest -m fuzz` runs 4,000.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

import pytest
from helpers import grants, invoke

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SHIPPED = sorted((Path(__file__).parents[1] / "specs").glob("*.yaml"))
SPECS = {p.name: p.read_text() for p in SHIPPED}
GRANTS = {p.name: grants(p) for p in SHIPPED}  # what each spec's header says it needs
SECRET = "hunter2-do-not-leak"
TAGS = [
    "!!binary aGVsbG8=",
    "!!python/object/apply:os.system ['echo hi']",
    "!!python/name:os.system",
    "!local 1",
    "!!set {a, b}",
    "!!omap [{a: 1}]",
    "!<tag:example.com,2000:x> 1",
]
ESCAPES = [  # (line, fragment of the refusal)
    ("extends: /etc/passwd", "absolute paths"),
    ("extends: ~/.aws/credentials.yaml", "absolute paths"),
    ("extends: ../secret.yaml", "outside this spec's tree"),
    ("extends: ../../../../etc/hosts.yaml", "outside this spec's tree"),
    ("extends: secret.txt", "only .yaml"),
    ("store: /tmp/anywhere.zarr", "--store PATH"),
    ("store: ~/anywhere.zarr", "--store PATH"),
    ("store: ../../anywhere.zarr", "--store PATH"),
    ("store: out-${AWS_SECRET_ACCESS_KEY}.zarr", "--env AWS_SECRET_ACCESS_KEY"),
    ("compute: {cache: /tmp/c}", "--set compute.cache"),
]
VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=30).map(json.dumps),
    st.sampled_from(["", "~", "null", "true", "[]", "{}", "[1, [2, [3]]]", "'${HOME}'", "x: y"]),
    st.sampled_from(["../../etc/passwd", "/etc/shadow", "${HOME}", "*undefined_alias", "&a"]),
    st.integers(1, 40).map(lambda d: "{" * d + "}" * d),
    st.integers(1, 60).map(lambda d: "[" * d + "]" * d),
    st.integers(1, 20_000).map(lambda n: "x" * n),
    st.text(st.characters(codec="utf-8"), max_size=20).map(json.dumps),
)


def _value_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if re.match(r"^\s*(- )?[\w.\[\]-]+: \S", line)]


@st.composite
def mutants(draw):
    """(spec name, mutated text, the refusal it must get or None, what was done): up to two
    mutations of any kind, then perhaps one known attack, which must be refused."""
    name = draw(st.sampled_from(sorted(SPECS)))
    lines = SPECS[name].splitlines()
    done = []
    for _ in range(draw(st.integers(0, 2))):
        spots = _value_lines(lines)
        if draw(st.booleans()) and spots:
            i = draw(st.sampled_from(spots))
            lines[i] = f"{lines[i].partition(': ')[0]}: {draw(VALUES)}"
            done.append(f"value at line {i + 1}")
        elif lines:
            del lines[draw(st.integers(0, len(lines) - 1))]
            done.append("delete")
    attack = draw(st.sampled_from([None, "tag", "escape", "alias", "unknown"]))
    tops = [i for i, x in enumerate(lines) if re.match(r"^[a-z_]+:", x)] + [len(lines)]
    must = None
    if attack == "tag" and _value_lines(lines):
        i = draw(st.sampled_from(_value_lines(lines)))
        lines[i] = f"{lines[i].partition(': ')[0]}: {draw(st.sampled_from(TAGS))}"
        must = "is not allowed in a spec"
    elif attack == "escape":
        # a key the spec does not write yet, at the top level, before another top-level key
        free = [
            (x, f)
            for x, f in ESCAPES
            if not any(y.startswith(x.split(":")[0] + ":") for y in lines)
        ]
        line, must = draw(st.sampled_from(free))
        lines.insert(draw(st.sampled_from(tops)), line)
    elif attack == "alias":
        at = draw(st.sampled_from(tops))
        lines[at:at] = [
            "zz_a: &a [x, x, x, x, x, x, x, x, x]",
            "zz_b: &b [*a, *a, *a, *a, *a, *a]",
            "zz_c: [*b, *b, *b, *b, *b, *b, *b, *b]",
        ]
        must = "unknown key"
    elif attack == "unknown":
        lines.insert(draw(st.sampled_from(tops)), f"zz_{draw(st.integers(0, 9))}: 1")
        must = "unknown key"
    if must:
        done.append(f"attack: {attack}")
    return name, "\n".join(lines) + "\n", must, done


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def check(tmp_path: Path, mutant) -> None:
    name, text, must, done = mutant
    box = Path(tempfile.mkdtemp(dir=tmp_path))
    (box / "spec").mkdir()
    (box / "secret.yaml").write_text(f"api_key: {SECRET}\n")
    (box / "spec" / "secret.txt").write_text(f"{SECRET}\n")
    spec = box / "spec" / name
    spec.write_text(text)
    before = _files(box)
    start = time.perf_counter()
    r = invoke("validate", spec, *GRANTS[name])
    took = time.perf_counter() - start
    where = f"{name} ({', '.join(done)}):\n{text[:600]}\n--- stderr:\n{r.stderr[-1500:]}"
    assert r.exit_code in (0, 2), where
    assert took < 2.0, f"{took:.2f} s: {where}"
    assert SECRET not in r.output and SECRET not in r.stderr, where
    assert _files(box) == before, where  # validate writes nothing, inside or out
    if r.exit_code == 2:
        assert re.match(rf"^{re.escape(str(spec))}:\d+:\d+: ", r.stderr), where
    if must is not None:  # refused; for a lone attack, for that very reason
        assert r.exit_code == 2, f"wrongly accepted: {where}"
        alone = len(done) == 1
        assert not alone or must in r.stderr, f"refused for another reason: {where}"


COMMON = dict(
    deadline=None,
    derandomize=True,  # seeded: the same mutants on every run
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def hostile_env(monkeypatch):
    """A secret in the environment, and no variable allowed: what a shared spec must not see."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("REPRDYN_ALLOW_ENV", raising=False)


@settings(max_examples=250, **COMMON)
@given(mutant=mutants())
def test_mutants_are_valid_or_positioned_errors(tmp_path, mutant, hostile_env):
    check(tmp_path, mutant)


@pytest.mark.fuzz
@settings(max_examples=4000, **COMMON)
@given(mutant=mutants())
def test_mutants_long_profile(tmp_path, mutant, hostile_env):
    check(tmp_path, mutant)
