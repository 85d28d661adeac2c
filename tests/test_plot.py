"""Every figure renders from a small store, in every format; a figure the store cannot support says
why."""

from __future__ import annotations

import pytest
from conftest import SMALL
from typer.testing import CliRunner

import reprdyn
from reprdyn.cli import app
from reprdyn.plot import FIGURES, FigureError, figure, write
from reprdyn.spec import validate_text

METRICS = (
    "metrics: [accuracy, class_accuracy, csnr, csnr_theory, unimodality, sw_distance, cka, "
    "generalization]\n"
)
SETTINGS = "analysis: {max_samples: 100, projections: 32}\ngeneration: {samples: 32, steps: 8}\n"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("figs")
    plain = validate_text(SMALL + METRICS + SETTINGS)
    two = validate_text(
        SMALL.replace(
            "model: {kind: molrg-optimal}",
            "models: {diffusion: {kind: molrg-optimal}, dae: {kind: molrg-optimal}}",
        )
        + METRICS
        + SETTINGS
    )
    swept = validate_text(SMALL + METRICS + SETTINGS + "sweep:\n  datasets[0].delta: [0.2, 0.4]\n")
    out = {}
    for name, spec in (("plain", plain), ("two", two), ("swept", swept)):
        reprdyn.run(spec, store=root / f"{name}.zarr")
        out[name] = root / f"{name}.zarr"
    return out


WHERE = {
    "curves": "plain",
    "csnr": "plain",
    "label-noise": "plain",
    "cka": "plain",
    "dae-vs-diffusion": "two",
    "generalization": "swept",
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_renders(stores, tmp_path, name):
    out = write(stores[WHERE[name]], name, tmp_path / f"{name}.png")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000  # 300 dpi, not an empty canvas


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<svg"), (".pdf", b"%PDF")])
def test_vector_formats(stores, tmp_path, suffix, magic):
    data = write(stores["plain"], "curves", tmp_path / f"c{suffix}").read_bytes()
    assert magic in data[:400]


def test_sweep_store_figures_have_the_sweep(stores):
    fig = figure(stores["swept"], "generalization")
    left, right = fig.axes[:2]
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["delta=0.2", "delta=0.4"]
    assert right.get_xlabel() == "delta" and len(right.lines[0].get_xdata()) == 2
    assert len(figure(stores["swept"], "curves").axes[0].lines) >= 2


@pytest.mark.parametrize(
    "name, store, match",
    [
        ("dae-vs-diffusion", "plain", "compares models; it needs a spec with `models:`"),
        ("generalization", "plain", "needs a sweep store"),
        ("scatter", "plain", "unknown figure 'scatter'; expected one of curves"),
    ],
)
def test_figures_say_what_they_need(stores, name, store, match):
    with pytest.raises(FigureError, match=match):
        figure(stores[store], name)


def test_plot_command(stores, tmp_path):
    r = CliRunner().invoke(
        app, ["plot", str(stores["plain"]), "--figure", "cka", "--out", str(tmp_path / "k.pdf")]
    )
    assert r.exit_code == 0 and (tmp_path / "k.pdf").exists()
    r = CliRunner().invoke(
        app, ["plot", str(stores["plain"]), "-f", "curves", "-o", str(tmp_path / "k.jpg")]
    )
    assert (
        r.exit_code == 2
        and "unknown figure format '.jpg'" in r.stderr
        and "Traceback" not in r.stderr
    )
    r = CliRunner().invoke(
        app,
        [
            "plot",
            str(stores["plain"]),
            "-f",
            "curves",
            "-o",
            str(tmp_path / "x.png"),
            "--dataset",
            "nope",
        ],
    )
    assert r.exit_code == 2 and "unknown dataset 'nope'" in r.stderr
