"""Report stage: one self-contained HTML file per store: summary tables, every figure that applies,
the spec as written and resolved, and its provenance. Figures are embedded as base64 PNG, so the
file has no outside references and can be mailed or attached as it is.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
from pathlib import Path

from .. import metrics, plot
from ..spec import to_yaml
from ..store import Results
from .summary import (
    COMPARISON_COLUMNS,
    as_cells,
    compare,
    headline,
    interval_note,
    lead_columns,
    store_settings,
    table_rows,
)

log = logging.getLogger("reprdyn")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d1d1f}
h1{font-size:1.6em;margin-bottom:.2em}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f6}
td.l,th.l{text-align:left}
pre{background:#f6f8fa;padding:.8em;overflow:auto;font-size:12px;border-radius:4px}
figure{margin:1em 0}
figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:12px}
.muted{color:#777}
"""
# marks the page once every embedded image has decoded (tests read it from a headless browser)
ONLOAD = (
    "<script>window.addEventListener('load',function(){var i=[].slice.call(document.images);"
    "document.body.setAttribute('data-images-ok',i.filter(function(x){return "
    "x.complete&&x.naturalWidth>0}).length+'/'+i.length)});</script>"
)


def _e(x) -> str:
    return html.escape(str(x))


def _num(v) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.4g}"
    return _e(v)


def _table(header: list[str], rows: list[list], left: int = 0) -> str:
    th = "".join(
        f"<th class='l'>{_e(h)}</th>" if i < left else f"<th>{_e(h)}</th>"
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='l'>{_num(v)}</td>" if i < left else f"<td>{_num(v)}</td>"
            for i, v in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _png(fig) -> str:
    buf = io.BytesIO()
    with plot.plt.rc_context(plot.STYLE):
        fig.savefig(buf, format="png", dpi=150)
    plot.plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _rows_table(rows: list, columns: tuple, layer: str = "layer") -> str:
    header, body = as_cells(rows, columns, layer)
    return _table(header, body, left=len(lead_columns(rows, layer)))


def _summary(path: Path) -> str:
    """The headline table (the first a metric declares) with the paired differences."""
    table = headline()
    rows = table_rows(str(path), table)
    if not rows:
        return "<p class='muted'>No classification probe results in this store.</p>"
    confidence, resamples = store_settings(str(path))
    out = [_rows_table(rows, table.columns, table.layer)]
    diffs = compare(str(path))
    if diffs:
        out += [
            "<h3>Paired differences</h3><p class='muted'>At the lowest label noise; '&gt; 0' or "
            "'&lt; 0' where the interval excludes zero, else within noise.</p>",
            _rows_table(diffs, COMPARISON_COLUMNS),
        ]
    return "\n".join(out) + f"<p class='muted'>{_e(interval_note(rows, confidence, resamples))}</p>"


def _other_tables(path: Path) -> str:
    """The other metrics' store-wide tables (segmentation), each under its title."""
    out = []
    for _, t in metrics.tables()[1:]:
        rows = [] if t.per_dataset else table_rows(str(path), t)
        if rows:
            note = f"<p class='muted'>{_e(t.note)}</p>" if t.note else ""
            head = f"<h3>{_e(t.heading or t.title)}</h3>{note}"
            out.append(head + _rows_table(rows, t.columns, t.layer))
    return "\n".join(out)


def _dataset_tables(path: Path, dataset: str) -> str:
    """The tables a metric shows per dataset (Table 1 across label-noise levels)."""
    out = []
    for _, t in metrics.tables():
        rows = (
            [r for r in table_rows(str(path), t) if r.dataset == dataset] if t.per_dataset else []
        )
        if rows and len({getattr(r, "label_noise", None) for r in rows}) > 1:
            out.append(f"<h3>{_e(t.heading or t.title)}</h3>" + _rows_table(rows, t.columns))
    return "\n".join(out)


def _figures(res: Results, dataset: str) -> str:
    out = []
    for name in plot.FIGURES:
        try:
            fig = plot.figure(res, name, dataset)
        except plot.FigureError as e:  # the store cannot support it: say what it needs
            out.append(f"<p class='muted'>{_e(name)}: not drawn ({_e(e)})</p>")
            continue
        except Exception as e:  # noqa: BLE001 - one figure never takes the report down
            log.warning("report: figure %r skipped: %s: %s", name, type(e).__name__, e)
            out.append(
                f"<p class='muted'>{_e(name)}: skipped, it could not be drawn "
                f"({_e(type(e).__name__)}: {_e(e)})</p>"
            )
            continue
        out.append(
            f"<figure><img alt='{_e(name)}' src='data:image/png;base64,{_png(fig)}'>"
            f"<figcaption>{_e(name)} — {_e(dataset)}</figcaption></figure>"
        )
    return "\n".join(out)


def build(store: str | Path) -> str:
    """The report of a store, as one HTML string."""
    path = Path(store)
    res = Results(path)
    a = res.attrs
    name = a["spec_canonical"].get("name", path.name)
    parts = [*_head(res, name), _summary(path), _other_tables(path)]
    for dataset in res.datasets:
        parts += [
            f"<h2>Dataset {_e(dataset)}</h2>",
            _dataset_tables(path, dataset),
            _figures(res, dataset),
        ]
    parts += _provenance(a)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        "content='width=device-width'><title>reprdyn: "
        f"{_e(name)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(p for p in parts if p)
        + f"\n{ONLOAD}</body></html>\n"
    )


def _head(res: Results, name: str) -> list[str]:
    """The title, where the store is, and what the summary tables mean."""
    a = res.attrs
    sweep = f" · sweep over {_e(', '.join(res.sweep_dims))}" if res.sweep_dims else ""
    return [
        f"<h1>reprdyn report: {_e(name)}</h1>",
        f"<p class='muted'>store {_e(res.path.resolve())} · created {_e(a.get('created'))} · spec "
        f"hash <code>{_e(a['spec_hash'][:16])}</code>{sweep}</p>",
        "<h2>Summary</h2>",
        "<p class='muted'>At the lowest label noise. σ* is chosen on validation data (its spread "
        "under resampling in brackets); acc@σ*, the ensemble and its gain are test accuracy, means "
        "over replicates and seeds, with intervals. The test-curve peak describes the curve's "
        "shape and is not a result.</p>",
    ]


def _provenance(a: dict) -> list[str]:
    """Where the numbers came from: hashes, hardware, versions, and the spec as written and
    resolved."""
    versions = a.get("versions") or {}
    prov = [
        ["spec hash", a["spec_hash"]],
        ["created", a.get("created")],
        ["git commit", a.get("git_commit") or "–"],
        *[[f"hardware: {k}", v] for k, v in (a.get("hardware") or {}).items()],
        ["store format", f"{a.get('format')} v{a.get('format_version')}"],
        *[[f"version of {k}", v] for k, v in versions.items()],
    ]
    parts = [
        "<h2>Provenance</h2>",
        _table(["", ""], prov, left=2),
        "<h2>Spec as written</h2>",
        f"<pre>{_e(a.get('spec', ''))}</pre>",
    ]
    for base, text in (a.get("spec_bases") or {}).items():
        parts += [f"<h3>extends {_e(base)}</h3>", f"<pre>{_e(text)}</pre>"]
    return parts + [
        "<h2>Resolved spec</h2>",
        "<p class='muted'>Every default filled in: <code>reprdyn spec STORE</code> prints it, and "
        "running it reproduces this store.</p>",
        f"<pre>{_e(to_yaml(a.get('spec_resolved') or a['spec_canonical']))}</pre>",
    ]


def write(store: str | Path, out: str | Path) -> Path:
    """`reprdyn report`: write the report of `store` to `out` (.html)."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise plot.FigureError(f"{out}: a report is an .html file")
    text = build(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
