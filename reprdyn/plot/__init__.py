"""Plot stage: publication-quality matplotlib figures read from a store, chosen by name.

Each figure is declared by its metric (`reprdyn.metrics`: its name, what it shows, the function that
draws it); this package holds the machinery and the style. Every figure takes a store of any shape:
sweep dims and extra dims become more lines or more panels, and `sel` ("layer=mid", "n_train=1024")
narrows a store down before drawing (with `--sel`'s one set of rules, `reprdyn.read.selection`).
Legends sit outside the axes, so they never cover data; every title names the selection it shows.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from .. import metrics
from ..errors import QueryError
from ..read.selection import select
from ..store import Results
from .style import FORMATS, STYLE, FigureError

# every figure the metrics declare, by name: its drawing function
FIGURES = {name: f.draw for name, f in metrics.figures().items()}
__all__ = ["FIGURES", "FigureError", "STYLE", "figure", "save", "write"]


def figure(
    store: str | Path | Results, name: str, dataset: str | None = None, sel: tuple[str, ...] = ()
) -> plt.Figure:
    """Build figure `name` from a store or its open Results (the first dataset unless one is named),
    after narrowing the store with `sel` items such as "layer=mid"."""
    FIGURES.update({n: f.draw for n, f in metrics.figures().items() if n not in FIGURES})
    if name not in FIGURES:
        raise FigureError(f"unknown figure {name!r}; expected one of {', '.join(FIGURES)}")
    res = store if isinstance(store, Results) else Results(store)
    if not res.datasets:
        raise FigureError(f"{res.path}: the store holds no results yet; run its spec first")
    dataset = dataset or res.datasets[0]
    res._check(dataset)
    try:
        ds = select(res[dataset], sel)
    except QueryError as e:
        raise FigureError(str(e)) from None
    with plt.rc_context(STYLE):
        fig = FIGURES[name](ds, dataset, res.sweep_dims)
        declared = metrics.figures().get(name)
        _name_selection(fig, ds, sel, declared is not None and declared.at_lowest_noise)
        return fig


def _name_selection(fig: plt.Figure, ds: xr.Dataset, sel, lowest: bool) -> None:
    """Add what the figure shows to its title: the label-noise level it reads, the --sel items and
    the replicates averaged."""
    parts = []
    if lowest and "label_noise" in ds.dims:
        parts.append(f"label noise {float(ds.label_noise.min()):g}")
    parts += [str(item) for item in sel]
    if "replicate" in ds.dims and ds.sizes["replicate"] > 1:
        parts.append(f"mean of {ds.sizes['replicate']} replicates")
    text = "selection: " + ", ".join(parts) if parts else ""
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    title = f"{title}\n{text}" if title and text else title or text
    if title:  # wrapped to the figure's width: a long title must not widen the canvas
        fig.suptitle(_wrapped(fig, title, 9), fontsize=9)
    note = getattr(fig, "_reprdyn_caption", "")
    if note:  # beneath every panel, laid out with them (constrained layout)
        fig.supxlabel(_wrapped(fig, note, 7), fontsize=7, color="0.3")


def _wrapped(fig: plt.Figure, text: str, size: float) -> str:
    """`text` wrapped at the characters `size`-point type fits across the figure."""
    chars = max(int(fig.get_figwidth() * 72 / (size * 0.55)), 40)
    return "\n".join(w for line in text.split("\n") for w in textwrap.wrap(line, chars) or [""])


def _check_format(out: Path) -> None:
    if out.suffix.lower() not in FORMATS:
        raise FigureError(
            f"{out}: unknown figure format {out.suffix!r}; expected one of {', '.join(FORMATS)}"
        )


def save(fig: plt.Figure, out: str | Path) -> Path:
    """Write a figure as .png (300 dpi), .svg or .pdf, chosen by the file's suffix."""
    out = Path(out)
    _check_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        fig.savefig(out)
    plt.close(fig)
    return out


def write(
    store: str | Path,
    name: str,
    out: str | Path,
    dataset: str | None = None,
    sel: tuple[str, ...] = (),
) -> Path:
    """`reprdyn plot`: check the format, build figure `name` from the store, write it to `out`."""
    _check_format(Path(out))
    return save(figure(store, name, dataset, sel), out)
