"""What commands print: tables (cells shown as they are, never as Rich markup), the run summary,
and the run's progress (bars on a terminal; log lines with counts and an ETA otherwise)."""

from __future__ import annotations

import math
import time

from rich.table import Table
from rich.text import Text

from .app import err, log_line, out

COMPARISON_TITLE = (
    "paired differences at the lowest label noise: '> 0' or '< 0' where the interval excludes 0"
)


def row(table: Table, *cells) -> None:
    """Add a row whose text is shown as it is: `[n_train=8]` is a sweep point, not Rich markup."""
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else "–"
    return str(v)


def table(
    title: str | None,
    header: list[str],
    rows: list[list],
    right: int | None = None,
    widths: list[int] | None = None,
):
    """Print a table; columns from `right` on are right-aligned; `widths` fixes each column's
    width (a header wraps at its spaces within it, a cell never wraps)."""
    t = Table(title=Text(title) if title else None)
    for i, col in enumerate(header):
        w = widths[i] if widths else None
        justify = "right" if right is not None and i >= right else "left"
        t.add_column(Text(col), justify=justify, min_width=w, max_width=w)
    for r in rows:
        row(t, *(fmt(c) if not isinstance(c, str) else c for c in r))
    out.print(t)


# the summary's headline columns, first in a compact table; the rest follow, or go to --wide
HEADLINE = ("σ* (val) [spread]", "σ* (val)", "acc@σ*", "mIoU@σ*", "ensemble gain", "unimodal (p)")


def summary(path: str, shown: list, diffs: list, wide: bool = False) -> None:
    """The run summary: each metric's table (`shown`: [(Table, rows)]), the paired differences,
    what the intervals cover, and where the store is. It fits the terminal (`out.width`):
    coordinates that are the same in every row go above the table, the headline columns come first,
    and columns that do not fit go to a second block with the same coordinates; `wide` prints one
    table with every column."""
    from ..read.summary import (
        COMPARISON_COLUMNS,
        as_cells,
        interval_note,
        lead_columns,
        store_settings,
    )

    confidence, resamples = store_settings(path)
    blocks = [(t.title, these, t.columns, t.layer) for t, these in shown]
    for title, these, columns, layer in [
        *blocks,
        (COMPARISON_TITLE, diffs, COMPARISON_COLUMNS, "layer"),
    ]:
        if not these:
            continue
        header, body = as_cells(these, columns, layer)
        lead = len(lead_columns(these, layer))
        if wide:
            table(title, header, body, right=lead)
        else:
            fitted(title, header, body, lead, out.width)
    filled = [(t, these) for t, these in shown if these]
    if filled:
        say(interval_note(filled[0][1], confidence, resamples))
    out.print(f"store: {path}", highlight=False)
    what = (filled or shown)[0][0].needs if shown else "—"
    out.print(f"query: reprdyn query {path} {what} --format csv", highlight=False)


def fitted(title: str, header: list[str], body: list[list], lead: int, width: int) -> None:
    """A table in blocks no wider than `width`: the first `lead` columns are coordinates (those
    with one value in every row are printed once, above), then the value columns, headline ones
    first, packed into as few blocks as fit, each repeating the coordinates that vary."""
    cells = [[fmt(c) for c in r] for r in body]
    cols = list(zip(*cells)) if cells else [()] * len(header)
    varying = [i for i in range(lead) if len(set(cols[i])) > 1]
    fixed = [f"{header[i]} {cols[i][0]}" for i in range(lead) if i not in varying and cols[i]]
    values = sorted(range(lead, len(header)), key=lambda i: header[i] not in HEADLINE)

    def size(i: int) -> int:  # a header wraps at its spaces; a cell does not
        return max([*(len(w) for w in header[i].split()), *(len(c) for c in cols[i])])

    blocks, base = [[]], 1 + sum(size(i) + 3 for i in varying)  # 3: padding and a rule
    for i in values:
        if blocks[-1] and base + sum(size(j) + 3 for j in blocks[-1]) + size(i) + 3 > width:
            blocks.append([])
        blocks[-1].append(i)
    say(title + (": " + " · ".join(fixed) if fixed else ""), width)
    for block in blocks:
        keep = varying + block
        rows = [[r[i] for i in keep] for r in cells]
        table(None, [header[i] for i in keep], rows, len(varying), [size(i) for i in keep])


def say(text: str, width: int | None = None) -> None:
    """A line of prose on stdout, wrapped at `width` (the terminal's by default)."""
    out.print(Text(text), width=width or out.width, soft_wrap=False, highlight=False)


class Eta:
    """What is left, estimated per stage: the tasks left in each stage times the mean time a task
    of that stage took, divided by how many ran at once. Stages differ by orders of magnitude
    (a training against a probe), so no estimate is given while a stage with tasks left has none
    finished yet."""

    def __init__(self, clock=time.monotonic):
        self.clock, self.began = clock, clock()
        self.left: dict[str, int] = {}
        self.spent: dict[str, list[float]] = {}
        self.running: dict[str, float] = {}

    def plan(self, stage: str, n: int) -> None:
        self.left[stage] = self.left.get(stage, 0) + n

    def start(self, key: str) -> None:
        self.running.setdefault(key, self.clock())

    def done(self, stage: str, key: str) -> None:
        now = self.clock()
        self.spent.setdefault(stage, []).append(now - self.running.pop(key, now))
        self.left[stage] = max(self.left.get(stage, 0) - 1, 0)

    def text(self) -> str:
        """', ETA 3m05s', or '' while it cannot be told."""
        todo = {s: n for s, n in self.left.items() if n}
        if not todo or any(not self.spent.get(s) for s in todo):
            return ""
        work = sum(sum(v) for v in self.spent.values())
        at_once = max(work / max(self.clock() - self.began, 1e-9), 1.0)  # tasks run side by side
        left = sum(n * sum(self.spent[s]) / len(self.spent[s]) for s, n in todo.items()) / at_once
        return f", ETA {int(left // 60)}m{int(left % 60):02d}s"


class Reporter:
    """Progress per stage: rich bars with totals and ETA on a terminal; otherwise log lines that
    count the tasks and estimate what is left."""

    def __init__(self):
        self.live = err.is_terminal
        self.progress = progress_bars() if self.live else None
        self.bars: dict[str, int] = {}
        self.train = train_bar(self.progress) if self.live else None
        self.total, self.finished, self.eta = 0, 0, Eta()

    def __enter__(self) -> Reporter:
        if self.progress:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress:
            self.progress.__exit__(*exc)

    def hooks(self):
        """The runner's hooks, all of them this reporter's."""
        from ..runner.options import Hooks

        return Hooks(self.start, self.done, self.plan, self.train_step, self.wait)

    def plan(self, tasks) -> None:
        """The tasks about to run: each stage's bar gets its total (sweep points add to it)."""
        counts: dict[str, int] = {}
        for t in tasks:
            counts[str(t.stage)] = counts.get(str(t.stage), 0) + 1
        for stage, n in counts.items():
            self.eta.plan(stage, n)
        self.total += len(tasks)
        if not self.live:
            log_line(
                f"{len(tasks)} task(s) to run: " + ", ".join(f"{n} {s}" for s, n in counts.items())
            )
            return
        for stage, n in counts.items():
            if stage in self.bars:
                bar = self.bars[stage]
                self.progress.update(bar, total=self.progress.tasks[bar].total + n)
            else:
                self.bars[stage] = self.progress.add_task(stage, total=n)

    def start(self, task) -> None:
        self.eta.start(task.key)
        if not self.live:
            log_line(f"start {task.label}")
        elif str(task.stage) not in self.bars:
            self.bars[str(task.stage)] = self.progress.add_task(str(task.stage), total=None)

    def done(self, task) -> None:
        self.finished += 1
        self.eta.done(str(task.stage), task.key)
        if self.live:
            self.progress.advance(self.bars[str(task.stage)])
        else:
            eta = self.eta.text()
            log_line(f"done  {task.label} ({self.finished}/{self.total}{eta})")

    def wait(self, message: str) -> None:
        log_line(message)

    def train_step(self, label: str, i: int, total: int, loss: float) -> None:
        if self.live:
            self.train(label, i, total, loss)
        elif i == total or i % max(total // 10, 1) == 0:
            log_line(f"train {label}: step {i}/{total} loss {loss:.4g}")


def train_bar(progress):
    """A progress callback that shows the running training loss on its own bar."""
    state: dict[str, int] = {}

    def step(label: str, i: int, total: int, loss: float) -> None:
        if label not in state:
            state[label] = progress.add_task(label, total=total)
        progress.update(state[label], completed=i, description=f"{label} loss {loss:.4g}")

    return step


def progress_bars():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
