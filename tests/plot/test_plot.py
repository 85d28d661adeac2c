"""Every figure renders from a small store, in every format; a figure the store cannot support says
why."""

from __future__ import annotations

import pytest
from helpers import SEG_SMALL, SMALL
from typer.testing import CliRunner

import reprdyn
from reprdyn.cli import app
from reprdyn.plot import FIGURES, FigureError, figure, write
from reprdyn.spec import validate_text

METRICS = (
    "metrics: [accuracy, class_accuracy, csnr, csnr_theory, shape, sw_distance, cka, cknna, "
    "rankme, generalization]\n"
)
SETTINGS = "analysis: {max_samples: 100, projections: 32}\ngeneration: {samples: 32, steps: 8}\n"


@pytest.fixture(scope="module")
def stores(tmp_path_factory, shared_cache):
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
    both = validate_text(
        SMALL.replace(
            "model: {kind: molrg-optimal}",
            "models: {diffusion: {kind: molrg-optimal}, dae: {kind: molrg-optimal}}",
        )
        + METRICS
        + SETTINGS
        + "sweep:\n  datasets[0].delta: [0.2, 0.4]\n"
    )
    cache = [f"compute.cache={shared_cache}"]
    seg = validate_text(SEG_SMALL, overrides=cache)
    seg_swept = validate_text(
        SEG_SMALL + "sweep:\n  datasets[0].n_train: [40, 50]\n", overrides=cache
    )
    joint = validate_text(
        SMALL.replace(
            "probes: [{kind: logistic, transform: abs, standardize: false}]",
            "probes: [{kind: ridge}, {kind: aggregate, epochs: 2, width: 4}]",
        )
    )
    out = {}
    for name, spec in (
        ("joint", joint),
        ("plain", plain),
        ("two", two),
        ("swept", swept),
        ("both", both),
        ("seg", seg),
        ("seg-swept", seg_swept),
    ):
        reprdyn.run(spec, store=root / f"{name}.zarr")
        out[name] = root / f"{name}.zarr"
    return out


WHERE = {
    "curves": "plain",
    "csnr": "plain",
    "label-noise": "plain",
    "cka": "plain",
    "cknna": "plain",
    "regret": "plain",
    "mixing": "joint",
    "dae-vs-diffusion": "two",
    "generalization": "swept",
    "shape": "swept",
    "segmentation": "seg",
}
SWEPT = {
    "segmentation": "seg-swept",
    "mixing": "joint",
}  # the sweep store of figures the MoLRG stores cannot draw


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_renders(stores, tmp_path, name):
    out = write(stores[WHERE[name]], name, tmp_path / f"{name}.png")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000  # 300 dpi, not an empty canvas


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_draws_a_sweep_store(stores, tmp_path, name):
    """A sweep over delta with two models: every figure draws, sweep points as more lines or
    panels."""
    fig = figure(stores[SWEPT.get(name, "both")], name)
    drawn = [ax for ax in fig.axes if ax.get_visible() and (ax.lines or ax.images or ax.patches)]
    assert drawn
    if name == "cka":  # one heatmap per model and sweep point
        assert len([ax for ax in fig.axes if ax.images]) == 2 * 2
    if name == "curves":
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert any("delta=0.2" in x for x in labels) and any("delta=0.4" in x for x in labels)


def test_legends_never_sit_on_the_data(stores):
    """Legends are placed outside the axes: their box does not overlap the axes' plotting area."""
    for name in ("curves", "csnr", "generalization"):
        fig = figure(stores["both"], name)
        fig.canvas.draw()
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is not None:
                box, area = legend.get_window_extent(), ax.get_window_extent()
                assert box.x0 >= area.x1 - 1, name


def test_closed_form_is_drawn_once_per_distinct_curve(stores):
    labels = [
        t.get_text() for t in figure(stores["swept"], "csnr").axes[0].get_legend().get_texts()
    ]
    closed = [x for x in labels if x.startswith("closed form")]
    assert len(closed) == 2  # delta 0.2 and 0.4 differ; the same curve is never listed twice
    labels = [
        t.get_text() for t in figure(stores["plain"], "csnr").axes[0].get_legend().get_texts()
    ]
    assert sum(x.startswith("closed form") for x in labels) == 1


def test_sel_narrows_a_figure_and_cka_scales_to_its_data(stores):
    fig = figure(stores["both"], "cka", sel=("delta=0.4", "model=dae"))
    (image,) = [im for ax in fig.axes for im in ax.images]
    lo = float(image.get_array().min())
    assert image.norm.vmin <= lo and image.norm.vmin > lo - 0.06 or image.norm.vmin == 0.95
    with pytest.raises(FigureError, match="no dim 'nope'"):
        figure(stores["both"], "curves", sel=("nope=1",))


def test_a_figure_that_breaks_does_not_take_the_report_down(stores, tmp_path, monkeypatch):
    import reprdyn.plot as plot
    from reprdyn.read.report import build

    def broken(ds, dataset, sweep):
        raise TypeError("Invalid shape (3, 12, 12) for image data")

    monkeypatch.setitem(plot.FIGURES, "cka", broken)
    html = build(stores["both"])
    assert "cka: skipped, it could not be drawn (TypeError: Invalid shape" in html
    assert html.count("<img") >= 4


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


def test_segmentation_figure_lines_clean_solid_noisy_dashed(stores):
    fig = figure(stores["seg-swept"], "segmentation")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    assert [ax.get_title() for ax in panels] == [
        "glyphs: probe seg-linear",
        "glyphs: probe seg-mlp",
    ]
    labels = [t.get_text() for t in panels[0].get_legend().get_texts()]
    # two dense sets x two inputs x two sweep points
    assert len(labels) == 8 and any("n_train=50" in x for x in labels)
    styles = {
        line.get_label(): line.get_linestyle()
        for line in panels[0].lines
        if "input" in line.get_label()
    }
    assert {s for label, s in styles.items() if "noisy" in label} == {"--"}
    assert {s for label, s in styles.items() if "clean" in label} == {"-"}


@pytest.mark.parametrize("name", list(FIGURES))
def test_titles_read_at_a_glance(stores, name):
    """At most two title lines (what the figure is, and the selection it shows), for a plain and
    a swept store; what the marks mean goes beneath the panels."""
    import matplotlib.pyplot as plt

    for store in (stores[WHERE[name]], stores[SWEPT.get(name, "both")]):
        fig = figure(store, name)
        title = fig._suptitle.get_text() if fig._suptitle is not None else ""
        assert len(title.splitlines()) <= 2, title
        plt.close(fig)
