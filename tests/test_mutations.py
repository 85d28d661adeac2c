"""A mutation harness: the shipped specs, mutated at random with a fixed seed, through `reprdyn
validate` and `reprdyn plan`. Deleted and unknown keys, swapped types, huge and special numbers,
aliases, unicode and binary: no mutant may crash (exit 1), show a traceback or hang, and a mutant
that cannot be valid must exit 2."""

from __future__ import annotations

import io
import random
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from reprdyn.cli import app

SPECS = sorted((Path(__file__).parents[1] / "specs").glob("*.yaml"))
MUTANTS_PER_SPEC = 30
SPECIAL = [0, -1, 1e308, -1e308, 2**63, 2**31, 1e-320, float("nan"), float("inf"), "", "x", None,
           True, [], {}, [1, 2], {"a": 1}, "${HOME}", "é∂ƒ", "../../etc/passwd"]  # fmt: skip


def _yaml():
    y = YAML(typ="rt")
    y.width = 4096
    return y


def _nodes(tree, loc=()):
    """(parent, key, loc) of every value in the tree."""
    items = (
        tree.items()
        if isinstance(tree, dict)
        else enumerate(tree)
        if isinstance(tree, list)
        else ()
    )
    for k, v in list(items):
        yield tree, k, (*loc, k)
        yield from _nodes(v, (*loc, k))


def _mutate(text: str, rng: random.Random) -> tuple[str | bytes, str, bool]:
    """(mutant, what was done, whether it can no longer be valid)."""
    kind = rng.choice(
        ["delete", "unknown", "swap", "special", "alias", "unicode", "binary", "truncate"]
    )
    if kind == "binary":
        raw = bytearray(text.encode())
        for _ in range(rng.randint(1, 8)):
            raw.insert(rng.randrange(len(raw)), rng.choice([0, 0xFF, 0xFE, 0xC3]))
        return bytes(raw), "binary", True
    if kind == "truncate":
        return text[: rng.randrange(1, len(text))], "truncate", False
    tree = _yaml().load(text)
    nodes = list(_nodes(tree))
    parent, key, loc = rng.choice(nodes)
    if kind == "delete":
        del parent[key]
        what, invalid = f"delete {loc}", False
    elif kind == "unknown":
        maps = [v for p, k, _ in nodes if isinstance(v := p[k], dict)] + [tree]
        target = rng.choice(maps)
        target["zz_unknown_key"] = 1
        what, invalid = "unknown key", True
    elif kind == "alias":
        bomb = ["x"] * 9
        for _ in range(9):
            bomb = [bomb] * 9  # shared sub-lists: aliases when dumped, 9^10 values when expanded
        parent[key] = bomb
        what, invalid = f"alias bomb at {loc}", True
    elif kind == "unicode":
        parent[key] = f"{parent[key]}\u202e∆\U0001f600"
        what, invalid = f"unicode at {loc}", False
    elif kind == "swap":
        value = parent[key]
        options = [v for v in SPECIAL if type(v) is not type(value)]
        parent[key] = rng.choice(options)
        what, invalid = f"swap {loc} to {parent[key]!r}", False
    else:
        parent[key] = rng.choice(SPECIAL)
        what, invalid = f"{loc} = {parent[key]!r}", False
    buf = io.StringIO()
    _yaml().dump(tree, buf)
    return buf.getvalue(), what, invalid


@pytest.mark.slow  # 420 mutants through validate and plan; test_fuzz covers the quick suite
@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_mutants_never_crash_or_hang(spec, tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGENET_SUBSET", str(tmp_path / "imagenet"))
    monkeypatch.setenv("CELEBA19", str(tmp_path / "celeba"))
    rng = random.Random(f"mutants of {spec.name}")
    text = spec.read_text()
    runner = CliRunner()
    for i in range(MUTANTS_PER_SPEC):
        mutant, what, invalid = _mutate(text, rng)
        path = tmp_path / f"m{i}.yaml"
        path.write_bytes(mutant if isinstance(mutant, bytes) else mutant.encode())
        for command in ("validate", "plan"):
            t = time.perf_counter()
            r = runner.invoke(
                app,
                [command, str(path), "--store", str(tmp_path / "s.zarr")][
                    : 2 if command == "validate" else 4
                ],
            )
            took = time.perf_counter() - t
            where = f"{spec.name} mutant {i} ({what}), {command}"
            assert r.exit_code in (0, 2), f"{where}: exit {r.exit_code}\n{r.output}"
            assert "Traceback" not in r.output, f"{where}\n{r.output}"
            assert took < 10, f"{where}: {took:.1f} s"
            if invalid:
                assert r.exit_code == 2, f"{where}: accepted\n{r.output}"
            if r.exit_code == 2 and command == "validate":
                break  # plan refuses what validate refuses
    assert not (tmp_path / "s.zarr").exists()  # neither command writes a store
