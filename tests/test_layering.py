"""The package's layering: a spec is pure data, the command line answers without loading the
pipeline.

Each check runs in a fresh interpreter and reads `sys.modules` afterwards; the
timings these rules buy are measured in benchmarks/cli.py, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
HEAVY = ("torch", "sklearn", "diffusers", "transformers", "mlflow")


def loaded_after(code: str) -> set[str]:
    """Top-level packages imported by running `code` in a fresh interpreter."""
    listing = "sorted({m.split('.')[0] for m in sys.modules})"
    script = f"import sys\n{code}\nimport json; print(json.dumps({listing}))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code, banned",
    [
        ("import reprdyn", HEAVY + ("xarray", "zarr", "pydantic")),
        ("import reprdyn.spec", HEAVY + ("xarray", "zarr")),
        ("import reprdyn.plan", HEAVY + ("xarray", "zarr")),
        ("import reprdyn.cli", HEAVY + ("xarray", "zarr", "pydantic", "matplotlib")),
        (
            "import reprdyn.store, reprdyn.read.query, reprdyn.read.catalog, reprdyn.store.cube",
            HEAVY,
        ),
        ("import reprdyn; reprdyn.load_spec('specs/molrg-theory.yaml')", HEAVY),
    ],
)
def test_import_rules(code, banned):
    assert not set(banned) & loaded_after(code)


def test_loading_a_pretrained_spec_with_file_checks_imports_no_torch(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # online: some/model would download

    np.savez(tmp_path / "d.npz", x=np.zeros((6, 3, 8, 8), np.float32), y=np.arange(6) % 2)
    (tmp_path / "s.yaml").write_text(
        "spec_version: 1\nname: p\nmodel: {kind: diffusers-unet, id: some/model}\ndatasets: "
        "[{kind: npz, name: d, path: d.npz}]\nsigma: [0.1, 1]\nlayers: [mid_block]\n"
    )
    loaded = loaded_after(f"import reprdyn; reprdyn.load_spec({str(tmp_path / 's.yaml')!r})")
    assert not set(HEAVY) & loaded


def test_checks_stage_builds_trainable_networks_only_when_asked(tmp_path, monkeypatch):
    spec = "specs/digits-unet.yaml"
    assert not set(HEAVY) & loaded_after(
        f"import reprdyn; reprdyn.load_spec({spec!r}, checks=False)"
    )
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path))  # no layer shapes kept yet: it builds
    assert "torch" in loaded_after(f"import reprdyn; reprdyn.load_spec({spec!r})")
    # the second time the shapes come from the cache (tests/models/test_shape_cache.py)
    assert "torch" not in loaded_after(f"import reprdyn; reprdyn.load_spec({spec!r})")


def test_figure_names_are_declared_once():
    from reprdyn import metrics
    from reprdyn.plot import FIGURES

    declared = metrics.figures()
    assert tuple(declared) == tuple(FIGURES)
    assert all(FIGURES[n] is f.draw for n, f in declared.items())


def test_run_says_a_spec_is_invalid_before_loading_the_pipeline(tmp_path):
    """`reprdyn run` on a spec with a typo answers (exit 2) without importing torch: the spec is
    parsed and validated before the runner loads."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_version: 1\nname: x\nmodel: {kind: analytc}\ndatasets: []\n")
    code = (
        "from reprdyn.cli import main\n"
        f"sys.argv = ['reprdyn', 'run', {str(bad)!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 2, e.code"
    )
    assert not set(HEAVY) & loaded_after(code)


def _imports(path: Path, module: str) -> set[str]:
    """The reprdyn modules `module` imports anywhere in its file (deferred imports included)."""
    import ast

    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            out |= {f"{target}.{a.name}" for a in node.names} | {target}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_no_import_circles():
    """No module reaches itself through imports, deferred ones included: the stages never import
    the cube or the store that derive from them."""
    files = {}
    for p in (ROOT / "reprdyn").rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph = {m: {t for t in _imports(p, m) if t in files and t != m} for m, p in files.items()}
    # a module importing its own package's __init__ (re-exports) is not a circle of design
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            assert state.get(t) != 1, "import circle: " + " -> ".join([*trail, m, t])
            if t not in state:
                visit(t, [*trail, m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


# the package's layers, lowest first: a module imports only from its own layer or lower ones. The
# metric modules sit on top (they call into every layer below); the rest of the package reaches
# them only through the registry (`reprdyn.metrics`), which finds them by name.
LAYERS = (
    ("reprdyn.errors", "reprdyn.seeds", "reprdyn.stop", "reprdyn.maths", "reprdyn.metrics.base"),
    ("reprdyn.metrics",),  # the registry
    ("reprdyn.spec", "reprdyn.probes.kinds"),  # the spec, and the probe kinds' registry
    ("reprdyn.data", "reprdyn.models"),
    ("reprdyn.compute",),
    ("reprdyn.probes",),
    ("reprdyn.stages",),
    ("reprdyn.store",),
    ("reprdyn.read", "reprdyn.plot"),
    ("reprdyn.plan",),
    ("reprdyn.runner",),
    ("reprdyn.export",),
    (
        "reprdyn.metrics.*",
        "reprdyn.probes.kinds.*",
        "reprdyn.cli",
        "reprdyn.templates",
        "reprdyn",
        "reprdyn.__main__",
    ),
)


def _layer(module: str) -> int:
    """The layer of a module: its longest matching prefix (`metrics.*`: a metric module)."""
    best, at = -1, None
    for i, names in enumerate(LAYERS):
        for name in names:
            if name.endswith(".*"):
                hit = module.startswith(name[:-1]) and module != "reprdyn.metrics.base"
                size = len(name) + 1 if hit else -1
            else:
                hit = module == name or module.startswith(name + ".")
                size = len(name) if hit else -1
            if size > best:
                best, at = size, i
    assert at is not None, f"{module} is in no layer; add it to LAYERS"
    return at


def _graph() -> dict[str, set[str]]:
    files = {}
    for p in (ROOT / "reprdyn").rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    # `from .. import x` names the module x, not the package it is in
    graph = {m: {t for t in _imports(p, m) if t in files and t != m} for m, p in files.items()}
    return {
        m: {t for t in ts if not any(u.startswith(t + ".") for u in ts)} for m, ts in graph.items()
    }


def test_no_upward_imports():
    """Every import, deferred ones included, goes to the module's own layer or a lower one."""
    up = [
        f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
        for m, targets in _graph().items()
        for t in targets
        if _layer(t) > _layer(m)
    ]
    assert not up, "\n".join(up)


def test_the_package_root_holds_at_most_five_modules():
    """The file list shows the pipeline: everything but a few shared modules is in a package."""
    root = sorted(p.name for p in (ROOT / "reprdyn").glob("*.py"))
    assert len(root) <= 5, root


def _strings(names: set[str], outside: tuple[str, ...]) -> list[str]:
    """Where a string in `names` stands in a module not under the package `outside` (export lists,
    which name functions, excepted)."""
    import ast

    found = []
    for p in (ROOT / "reprdyn").rglob("*.py"):
        if p.relative_to(ROOT).parts[: len(outside)] == outside:
            continue
        tree = ast.parse(p.read_text())
        exported = {
            id(c)
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            and any(getattr(t, "id", "") == "__all__" for t in node.targets)
            for c in ast.walk(node.value)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in exported:
                found.append(f"{p.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return found


def test_no_module_outside_the_metrics_names_a_metric():
    """A metric's name is a string only in its own module (and in other metric modules that read
    it): the rest of the package derives everything from the registry (`shape` is also an
    array's shape, in zarr's metadata and on dataset blocks)."""
    from reprdyn import metrics

    found = _strings(set(metrics.registry()) - {"shape"}, ("reprdyn", "metrics"))
    assert not found, "\n".join(found)


def test_no_module_outside_the_probe_kinds_names_one():
    """A probe kind is a string only in its own module: the spec's union, the segmentation kinds,
    the defaults and the estimators derive from the registry (`mlp` is also a network kind)."""
    from reprdyn.probes import kinds

    found = _strings(set(kinds.registry()) - {"mlp"}, ("reprdyn", "probes", "kinds"))
    assert not found, "\n".join(found)
