"""What many test modules share and read: small specs, and helpers to run the command line and
copy a store. Fixtures live in conftest.py."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from reprdyn.runner import Hooks, RunOptions

SMALL = textwrap.dedent("""\
    spec_version: 1
    name: small
    seed: 3
    model: {kind: molrg-optimal}
    datasets:
      - {kind: molrg, name: toy, n: 12, K: 3, d: 2, delta: 0.3, n_train: 300, n_test: 200}
    sigma: {start: 0.05, stop: 5, num: 5, scale: log}
    probes: [{kind: logistic, transform: abs, standardize: false}]
    label_noise: [0.0, 0.4]
    seeds: [0, 1]
    ensemble: {k: 1}
    """)


def errors(text: str) -> list[str]:
    """The issues a spec text fails validation with, as `file:line:col: ...` lines."""
    import pytest

    from reprdyn.spec import SpecError, validate_text

    with pytest.raises(SpecError) as e:
        validate_text(text, "s.yaml")
    return [str(i) for i in e.value.issues]


# a tiny segmentation spec: a U-Net trained for one epoch on two rendered characters (seconds)
SEG_SMALL = textwrap.dedent("""\
    spec_version: 1
    name: seg
    seed: 1
    model:
      kind: diffusion
      network: {kind: unet, channels: 8, mult: [1, 2], blocks: 1}
      precond: {kind: edm, sigma_data: 0.5}
      train: {data: glyphs, epochs: 1, batch_size: 32}
    datasets:
      - {kind: glyphs, name: glyphs, chars: "01", n_train: 40, n_test: 20}
    sigma: [0.1, 1.0]
    dense:
      both: [dec.0, dec.1]
      last: [dec.1]
    inputs: [clean, noisy]
    label_noise: [0, 0.3]
    probes:
      - {kind: seg-linear, lambdas: [0.001, 0.1, 10]}
      - {kind: seg-mlp, epochs: 2, hidden: 16, ensemble: 2, batch_size: 64}
    segmentation: {train_images: 30, test_images: 16, max_pixels: 2000}
    """)

# a molrg-optimal posterior beside a trained MLP with three replicates, clean and noisy inputs and
# the raw-input baseline
REPLICATED = """spec_version: 1
name: rep
models:
  exact: {kind: molrg-optimal}
  mlp:
    kind: diffusion
    network: {kind: mlp, width: 32}
    precond: {kind: edm}
    train: {data: m, steps: 30, batch_size: 64, replicates: 3}
datasets: [{kind: molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 300, n_test: 200}]
sigma: [0.1, 1.0]
layers: [output, pixels]
inputs: [clean, noisy]
probes: [{kind: ridge}]
"""

ROOT = Path(__file__).parents[1]
_runner = CliRunner()


def invoke(*args):
    """`reprdyn ARGS...` through Typer's CliRunner (paths may be Path objects)."""
    from reprdyn.cli import app

    r = _runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    return r


def stack(seed=0, S=3, n=400, D=6, K=3):
    """S feature sets of increasing separability, shared labels y."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    X = (
        rng.standard_normal((S, n, D)) * 3
        + np.eye(K, D)[y][None] * np.arange(1, S + 1)[:, None, None]
        + 10
    )
    return X, y


def copy_store(src: Path, dst: Path) -> Path:
    """A copy of a store to write into (the shared fixtures are read-only)."""
    shutil.copytree(src, dst)
    return dst


def run_losing_a_worker(spec, store, cluster, stop, caplog) -> tuple[str, list[str]]:
    """Run `spec` into `store` on a Dask cluster whose scheduler runs in this process, and
    `stop(worker)` the worker that is busy when the first features task starts; return that
    worker's address and the run's "was lost" warnings."""
    import logging

    import reprdyn

    workers = cluster.scheduler.workers  # the scheduler's own state
    stopped = []

    def stop_a_busy_worker(task):
        if task.stage == "features" and not stopped:
            busy = next(w for w in workers.values() if w.processing)
            stopped.append(busy.address)
            stop(busy)

    with caplog.at_level(logging.WARNING, logger="reprdyn"):
        reprdyn.run(
            spec,
            store=store,
            options=RunOptions(
                dask=cluster.scheduler_address, hooks=Hooks(start=stop_a_busy_worker)
            ),
        )
    assert stopped
    return stopped[0], [r.getMessage() for r in caplog.records if "was lost" in r.getMessage()]


def grants(spec_file) -> list[str]:
    """The command-line grants a shipped spec or template says it needs (its `# grants:` header
    line, as `reprdyn run` takes them), e.g. ['--env', 'IMAGES']."""
    from reprdyn.templates import grants as header_grants

    return header_grants(Path(spec_file).read_text())


def allowed_env(spec_file) -> list[str]:
    """The environment variables a spec's grants line lets it read."""
    words = grants(spec_file)
    return [words[i + 1] for i, w in enumerate(words) if w == "--env"]


def stand_in_data(spec_file, folder: Path, monkeypatch) -> list[str]:
    """Point every environment variable a shipped spec reads (its grants) at an empty imagefolder
    of the layout its validation checks (train/<class>/, test/<class>/); the variables."""
    names = allowed_env(spec_file)
    for name in names:
        for split in ("train", "test"):
            (folder / name / split / "c0").mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(folder / name))
    return names


def molrg(name: str = "m", n_train: int = 30, n_test: int = 20) -> str:
    """The dataset list of the specs below: one small MoLRG, on two lines."""
    return (
        f"datasets:\n  - {{kind: molrg, name: {name}, n: 12, K: 3, d: 2, delta: 0.3, "
        f"n_train: {n_train}, n_test: {n_test}}}\n"
    )


def molrg_spec(
    name: str = "t", *, n_train: int = 30, n_test: int = 20, sigma: str = "[0.5, 1e-3, 2]", rest=""
) -> str:
    """A spec of the analytic model on a small MoLRG (line 7 is the first line of `rest`)."""
    head = f"spec_version: 1\nname: {name}\nmodel: {{kind: molrg-optimal}}\n"
    return head + molrg("m", n_train, n_test) + f"sigma: {sigma}\n{rest}"


# the smallest valid spec (validation tests vary it)
BASE = molrg_spec()


def unet_dae_spec(data: str, datasets: str) -> str:
    """A spec of a one-level U-Net DAE trained for an epoch on the dataset `data` (of the
    `datasets` block, written out), read at its mid block at sigma 0.5: for the data tests."""
    return (
        "spec_version: 1\nname: t\n"
        "model: {kind: dae, network: {kind: unet, channels: 4, mult: [1]}, precond: {kind: edm},\n"
        f"        train: {{data: {data}, epochs: 1}}, train_sigma: 0.5}}\n"
        f"datasets:\n{datasets}sigma: [0.5]\nlayers: [mid]\n"
    )


def trained_spec(
    name: str = "t",
    *,
    width: int = 16,
    precond: str = "vp",
    train: str = "epochs: 1",
    data: str = "m",
    n_train: int = 30,
    n_test: int = 20,
    grid: str = "timesteps: [1, 10, 100]",
    rest: str = "",
) -> str:
    """A spec that trains a small MLP diffusion model on a small MoLRG: the one spec builder the
    tests share (line 11 is the first line of `rest`)."""
    return (
        f"spec_version: 1\nname: {name}\nmodel:\n  kind: diffusion\n"
        f"  network: {{kind: mlp, width: {width}}}\n  precond: {{kind: {precond}}}\n"
        f"  train: {{data: {data}, {train}}}\n" + molrg(data, n_train, n_test) + f"{grid}\n{rest}"
    )


# an EDM MLP on a MoLRG dataset named `toy`, three hooked layers, clean and noisy inputs: the
# preflight and machine-check tests count its feature store
TOY_MLP = trained_spec(
    "b",
    width=32,
    precond="edm",
    data="toy",
    n_train=100,
    n_test=50,
    grid="sigma: [0.1, 1.0, 3.0]",
    rest="layers: [fc1, fc2, output]\ninputs: [clean, noisy]\n",
)
