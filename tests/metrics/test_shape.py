"""Metric `shape`: the class of each accuracy curve with its probability, and where a sweep's
curves turn from unimodal to decreasing, on curves whose answer is known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr
from helpers import SMALL, molrg_spec

from reprdyn.maths.unimodal import SHAPES
from reprdyn.metrics import shape
from reprdyn.spec import validate_text
from reprdyn.stages.base import Cell

UP_DOWN = [0.5, 0.7, 0.9, 0.7, 0.5]
DOWN = [0.9, 0.8, 0.7, 0.6, 0.5]
UP = [0.5, 0.6, 0.7, 0.8, 0.9]


def test_each_curve_gets_its_class_and_the_share_of_resamples_in_each():
    spec = validate_text(SMALL)  # five sigmas, tolerance 0.05, flat 0.01
    boot = np.array([UP_DOWN, UP_DOWN, DOWN, UP]).T[:, None, :]  # (S, T=1, B=4)
    acc = np.array(UP_DOWN)[:, None]
    got = shape.compute(Cell(spec=spec, values={"accuracy": acc, "accuracy_boot": boot}))
    assert got["curve_shape"].tolist() == [SHAPES.index("unimodal")]
    want = {"unimodal": 0.5, "decreasing": 0.25, "increasing": 0.25, "flat": 0, "other": 0}
    np.testing.assert_allclose(got["shape_prob"][0], [want[s] for s in SHAPES])


def test_without_a_bootstrap_the_probability_is_one_at_the_curves_own_class():
    spec = validate_text(SMALL)
    acc = np.array([DOWN, [np.nan] * 5]).T  # (S, T=2): the second has no values
    got = shape.compute(Cell(spec=spec, values={"accuracy": acc}))
    assert got["shape_prob"][0].tolist() == [0, 1, 0, 0, 0]
    assert np.isnan(got["shape_prob"][1]).all() and np.isnan(got["curve_shape"][1])


def _boundary_by_brute_force(codes, first, second):
    J = len(codes)
    if not any(a == first and b == second for a, b in itertools.combinations(codes, 2)):
        return -1
    agree = [sum(c == first for c in codes[:k]) + sum(c == second for c in codes[k:]) for k in
             range(1, J)]  # fmt: skip
    return 1 + agree.index(max(agree))


def test_boundary_is_the_step_most_points_agree_with():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, size=(500, 5))
    got = shape.boundary(codes, 0, 1)
    want = [_boundary_by_brute_force(list(c), 0, 1) for c in codes]
    assert got.tolist() == want
    assert shape.boundary(np.array([1, 1, 0, 0]), 0, 1) == -1  # the other direction only
    assert shape.boundary(np.array([0, 0, 1, 1]), 0, 1) == 2


def _swept_cube(curves: dict, draws: dict, B: int) -> xr.Dataset:
    """A joined sweep cube of one cell: the mean curve and B resampled curves at each point."""
    points = list(curves)
    acc = np.array([curves[p] for p in points])[:, None, :]  # (J, replicate, sigma)
    boot = np.array([draws[p] for p in points]).transpose(0, 2, 1)[:, None]  # (J, 1, S, B)
    dims = ("n_train", "replicate", "sigma", "layer", "label_noise", "seed", "probe", "input")
    one = (1, 1, 1, 1, 1)
    codes = [[SHAPES.index(shape_name(d)) for d in draws[p]] for p in points]
    prob = np.array([[np.mean(np.array(c) == k) for k in range(len(SHAPES))] for c in codes])
    ds = xr.Dataset(
        {
            "accuracy": (dims, acc.reshape(*acc.shape, *one)),
            "accuracy_boot": ((*dims, "boot"), boot.reshape(*boot.shape[:3], *one, B)),
            "shape_prob": (
                ("n_train", "replicate", *dims[3:], "shape"),
                prob.reshape(len(points), 1, *one, len(SHAPES)),
            ),
            "curve_shape": (("n_train", "replicate", *dims[3:]), np.zeros((len(points), 1, *one))),
        },
        coords=dict(
            n_train=points,
            replicate=[0],
            sigma=np.arange(5.0),
            layer=["fc"],
            label_noise=[0.0],
            seed=[0],
            probe=["linear"],
            input=["clean"],
            shape=list(SHAPES),
        ),  # fmt: skip
        attrs={"analysis": {"confidence": 0.9, "bootstrap": B, "seed": 0, "flat": 0.01}},
    )
    return ds.expand_dims(model=[""])


def shape_name(curve) -> str:
    from reprdyn.maths.unimodal import shape_codes

    return SHAPES[int(shape_codes(np.array(curve)))]


def test_the_change_point_and_its_range_over_resamples():
    # n_train 8, 32: decreasing; 128, 1024: unimodal. Resampled: at 32, 30% of draws look
    # unimodal, so the boundary moves to 8→32 in them
    curves = {8: DOWN, 32: DOWN, 128: UP_DOWN, 1024: UP_DOWN}
    B = 20
    draws = {p: [c] * B for p, c in curves.items()}
    draws[32] = [UP_DOWN] * 6 + [DOWN] * 14
    ds = _swept_cube(curves, draws, B)
    (row,) = shape._change_rows("m", ds, ["n_train"])
    assert row.change == "32→128"
    assert row.interval == "8→32 … 32→128"  # 6 of 20 draws: more than the 5% tail
    assert row.share == 1.0
    assert row.shapes.startswith("8: decreasing (1.00) · 32: decreasing (0.70)")


def test_no_change_in_the_range_is_said_so():
    curves = {8: UP_DOWN, 32: UP_DOWN}
    ds = _swept_cube(curves, {p: [c] * 10 for p, c in curves.items()}, 10)
    (row,) = shape._change_rows("m", ds, ["n_train"])
    assert (row.change, row.interval, row.share) == ("none in the range", "–", 0.0)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A sweep of the analytic model over the probed data's size, with `shape`."""
    import reprdyn

    folder = tmp_path_factory.mktemp("shape")
    rest = (
        "metrics: [accuracy, shape]\nanalysis: {bootstrap: 50}\nlabel_noise: [0, 0.3]\n"
        "sweep:\n  datasets[0].n_train: [30, 60]\n"
    )
    (folder / "s.yaml").write_text(molrg_spec("shp", rest=rest, sigma="[0.01, 0.3, 1, 3]"))
    reprdyn.run(reprdyn.load_spec(folder / "s.yaml"), store=folder / "s.zarr")
    return folder / "s.zarr"


def test_a_sweep_run_has_the_shape_tables_and_unimodal_is_the_unimodal_row(swept):
    from reprdyn import open as open_store
    from reprdyn.read.summary import rows_of

    ds = open_store(swept)["m"]
    xr.testing.assert_equal(
        ds["shape_prob"].sel(shape="unimodal", drop=True).rename("p"),
        ds["unimodal_prob"].rename("p"),
    )
    points = rows_of(str(swept), "shapes")
    assert [r.point for r in points] == ["n_train=30", "n_train=60"]
    assert all(abs(sum(r.probs) - 1) < 1e-9 for r in points)
    (change,) = rows_of(str(swept), "shape_change")
    assert change.along == "n_train" and change.label_noise == 0.0
    assert change.shapes.startswith("30: ")


def test_the_shape_map_draws_a_cell_per_layer_and_sweep_point(swept):
    from reprdyn import metrics
    from reprdyn import open as open_store

    fig = metrics.figures()["shape"].draw(open_store(swept)["m"], "m", ["n_train"])
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["30", "60"]
    assert len(ax.texts) == 2  # each cell's probability written in it
