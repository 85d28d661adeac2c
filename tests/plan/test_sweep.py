"""Sweeps: product grids become dims, points are reused across runs and extensions, errors are
positioned."""

from __future__ import annotations

import pytest
import xarray.testing as xrt
from helpers import molrg_spec

import reprdyn
from reprdyn import store as st
from reprdyn.plan import plan
from reprdyn.plan.sweep import dim_names, points
from reprdyn.runner import Hooks, RunOptions
from reprdyn.spec import SpecError, validate_text

BASE = molrg_spec(
    "sw",
    n_train=120,
    n_test=80,
    sigma="[0.1, 1.0]",
    rest="probes: [{kind: logistic, transform: abs, standardize: false}]\n",
)


def test_points_and_dim_names():
    spec = validate_text(
        BASE + "sweep:\n  datasets[0].delta: [0.1, 0.5]\n  datasets[0].n_train: [60, 90, 120]\n"
    )
    pts = points(spec)
    assert [p.values for p in pts][:2] == [
        {"delta": 0.1, "n_train": 60},
        {"delta": 0.1, "n_train": 90},
    ]
    assert len(pts) == 6 and pts[-1].spec.datasets[0].delta == 0.5 and pts[-1].spec.sweep is None
    assert len({p.folder for p in pts}) == 6
    assert dim_names(["model.train.epochs", "models.a.train.epochs"]) == [
        "model_train_epochs",
        "models_a_train_epochs",
    ]


def test_sweep_dims_in_the_cube_and_each_point_equals_its_own_run(tmp_path):
    spec = validate_text(BASE + "sweep:\n  datasets[0].delta: [0.1, 0.5]\n")
    rows = reprdyn.run(spec, store=tmp_path / "s.zarr")
    assert [r.point for r in rows] == ["delta=0.1", "delta=0.5"]
    res = reprdyn.open(tmp_path / "s.zarr")
    acc = res["m"]["accuracy"]
    assert acc.dims[0] == "delta" and list(acc.delta.values) == [0.1, 0.5]
    alone = validate_text(BASE.replace("delta: 0.3", "delta: 0.5"))
    reprdyn.run(alone, store=tmp_path / "alone.zarr")
    xrt.assert_identical(
        res["m"].sel(delta=0.5, drop=True)["accuracy"].load(),
        reprdyn.open(tmp_path / "alone.zarr")["m"]["accuracy"].load(),
    )
    assert res.point(delta=0.5).features("m", "output").sizes["sample"] == 200
    with pytest.raises(
        st.StoreError, match="is a sweep over delta: features differ between points"
    ):
        res.features("m", "output")
    with pytest.raises(st.StoreError, match="no sweep point delta=0.7"):
        res.point(delta=0.7)


TRAINED = BASE.replace(
    "model: {kind: molrg-optimal}",
    """\
model:
  kind: diffusion
  network: {kind: mlp, width: 32}
  precond: {kind: edm}
  train: {data: m, epochs: 2}""",
).replace("probes: [{kind: logistic, transform: abs, standardize: false}]", "layers: [fc1]")


def test_points_reuse_checkpoints_and_a_sweep_grows_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    spec = validate_text(TRAINED + "sweep:\n  datasets[0].n_test: [40, 80]\n")
    started = []
    reprdyn.run(
        spec, store=tmp_path / "g.zarr", options=RunOptions(hooks=Hooks(start=started.append))
    )
    # n_test leaves the training data as it was
    assert len(list((tmp_path / "cache").rglob("*.pt"))) == 1
    # the second finds it cached
    assert sum(t.stage == "train" for t in started) == 2 and len(started) > 4
    started.clear()
    bigger = validate_text(TRAINED + "sweep:\n  datasets[0].n_test: [40, 80, 120]\n")
    # same store: the sweep grows
    reprdyn.run(
        bigger, store=tmp_path / "g.zarr", options=RunOptions(hooks=Hooks(start=started.append))
    )
    assert len(started) == len(plan(points(bigger)[2].spec))  # only the new point's tasks
    assert list(reprdyn.open(tmp_path / "g.zarr")["m"].n_test.values) == [40, 80, 120]
    other = validate_text(
        TRAINED.replace("width: 32", "width: 16") + "sweep:\n  datasets[0].n_test: [40]\n"
    )
    with pytest.raises(st.StoreError, match="written by a different spec"):
        reprdyn.run(other, store=tmp_path / "g.zarr")


@pytest.mark.parametrize(
    "sweep, match",
    [
        (
            "  datasets[0].delta: [0.2, 1.5]\n",
            "s.yaml:9:28: sweep.datasets[0].delta[1]: with datasets[0].delta = 1.5",
        ),
        ("  seed: [1, 2]\n", "a sweep varies the model, its training or a dataset"),
        ("  datasets[0].delta: []\n", "has no values"),
        ("  datasets[0].delta: [0.2, 0.2]\n", "repeats the value 0.2"),
        ("  datasets[3].delta: [0.2]\n", "datasets has no item [3]"),
    ],
)
def test_bad_sweeps_are_positioned(sweep, match):
    with pytest.raises(SpecError) as e:
        validate_text(BASE + "sweep:\n" + sweep, "s.yaml")
    assert match in str(e.value), str(e.value)


def test_a_sweep_can_be_set_from_the_command_line():
    spec = validate_text(
        BASE, overrides=["sweep.datasets[0].delta=[0.1, 0.2]", "sweep.model.kind=[molrg-optimal]"]
    )
    assert spec.sweep == {"datasets[0].delta": [0.1, 0.2], "model.kind": ["molrg-optimal"]}


def test_a_point_swapped_or_linked_from_elsewhere_is_refused(tmp_path):
    """A store is untrusted too: a point folder replaced by a symlink to another store's point, or
    by a copy of another point, is refused by name, never read as this sweep's."""
    import shutil

    from helpers import invoke

    spec = validate_text(BASE + "sweep:\n  datasets[0].delta: [0.1, 0.5]\n")
    reprdyn.run(spec, store=tmp_path / "a.zarr")
    shutil.copytree(tmp_path / "a.zarr", tmp_path / "b.zarr")
    folders = [p["store"] for p in st.read_attrs(tmp_path / "b.zarr")["sweep"]["points"]]
    one, other = (tmp_path / "b.zarr" / f for f in folders)
    shutil.rmtree(one)
    one.symlink_to(tmp_path / "a.zarr" / folders[0])  # the same point, but another store's
    with pytest.raises(st.StoreError, match=r"sweep point delta=0.1 .* leads out of the sweep"):
        reprdyn.open(tmp_path / "b.zarr")["m"]
    one.unlink()
    shutil.copytree(other, one)  # delta=0.5's results under delta=0.1's name
    with pytest.raises(st.StoreError, match=r"sweep point delta=0.1 .* holds a store of another"):
        reprdyn.open(tmp_path / "b.zarr")["m"]
    r = invoke("query", tmp_path / "b.zarr", "accuracy")
    assert r.exit_code == 2 and "holds a store of another spec" in r.stderr
