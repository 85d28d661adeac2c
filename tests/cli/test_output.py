"""What the command line prints while a run goes: progress bars with their totals."""

from __future__ import annotations


def test_progress_bars_know_their_totals():
    """On a terminal each stage's bar is created with its number of tasks (sweep points add theirs),
    so the bar shows n/N and an ETA."""
    from reprdyn.cli.output import Reporter, progress_bars
    from reprdyn.plan import Task

    rep = Reporter()
    rep.live, rep.progress = True, progress_bars()
    rep.plan([Task("features", "d", key=str(i)) for i in range(5)] + [Task("probe", "d", key="p")])
    rep.plan([Task("features", "d", key="x")])
    totals = {t.description: t.total for t in rep.progress.tasks}
    assert totals == {"features": 6, "probe": 1}
    rep.done(Task("features", "d", key="0"))
    assert rep.progress.tasks[rep.bars["features"]].completed == 1
