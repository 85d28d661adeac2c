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
HEAVY = ("torch", "sklearn")


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
        ("import reprdyn.store, reprdyn.query, reprdyn.catalog, reprdyn.cube", HEAVY),
        ("import reprdyn; reprdyn.load_spec('specs/molrg-theory.yaml')", HEAVY),
    ],
)
def test_import_rules(code, banned):
    assert not set(banned) & loaded_after(code)


def test_loading_a_pretrained_spec_with_file_checks_imports_no_torch(tmp_path):
    import numpy as np

    np.savez(tmp_path / "d.npz", x=np.zeros((6, 3, 8, 8), np.float32), y=np.arange(6) % 2)
    (tmp_path / "s.yaml").write_text(
        "spec_version: 1\nname: p\nmodel: {kind: diffusers-unet, id: some/model}\ndatasets: "
        "[{kind: npz, name: d, path: d.npz}]\nsigma: [0.1, 1]\nlayers: [mid_block]\n"
    )
    loaded = loaded_after(f"import reprdyn; reprdyn.load_spec({str(tmp_path / 's.yaml')!r})")
    assert not set(HEAVY) & loaded


def test_checks_stage_builds_trainable_networks_only_when_asked():
    spec = "specs/digits-unet.yaml"
    assert not set(HEAVY) & loaded_after(
        f"import reprdyn; reprdyn.load_spec({spec!r}, checks=False)"
    )
    assert "torch" in loaded_after(f"import reprdyn; reprdyn.load_spec({spec!r})")


def test_figure_names_are_declared_once():
    from reprdyn.figures import FIGURES as NAMES
    from reprdyn.plot import FIGURES

    assert tuple(NAMES) == tuple(FIGURES) and all(callable(f) for f in FIGURES.values())


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
