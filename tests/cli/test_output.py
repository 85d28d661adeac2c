"""What the command line prints while a run goes: progress bars with their totals."""

from __future__ import annotations

import pytest
from helpers import SMALL


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


def test_version_and_shell_completion():
    """`--version` prints the package version; Typer's completion lists commands and the values
    of Enum and figure options."""
    import os
    import subprocess
    import sys

    from helpers import invoke

    import reprdyn

    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"reprdyn {reprdyn.__version__}"

    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "_REPRDYN_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        }
        code = "from reprdyn.cli import app; app(prog_name='reprdyn')"
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        return out.stdout.split()

    assert "query" in complete("reprdyn qu")
    assert complete("reprdyn plot s.zarr --figure cu") == ["curves"]
    assert complete("reprdyn query s.zarr accuracy --format ") == ["table", "csv", "json"]


def test_log_lines_on_a_pipe_count_tasks_and_estimate_what_is_left(caplog):
    """Off a terminal, progress is one log line per task, with n/N and an ETA once one is known;
    task labels round sigma for people."""
    import logging

    from reprdyn.cli.output import Reporter
    from reprdyn.stages.base import SigmaParams, Stage, Task

    logging.getLogger("reprdyn").propagate = True
    tasks = [
        Task(Stage.FEATURES, "d", SigmaParams("", 0, i, 0.015848931924611134 * (i + 1)), str(i))
        for i in range(3)
    ]
    rep = Reporter()
    rep.live = False
    with caplog.at_level(logging.INFO, logger="reprdyn"):
        rep.plan(tasks)
        for t in tasks:
            rep.start(t)
            rep.done(t)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "3 task(s) to run: 3 features"
    assert "start features d replicate=0 sigma_index=0 sigma=0.01585" in lines
    assert any(line.startswith("done  features d") and "(1/3, ETA " in line for line in lines)
    assert lines[-1].endswith("(3/3)")


def test_the_eta_weighs_each_stage_by_its_own_task_time():
    """Three trainings of 100 s, then ten 2 s feature tasks: no estimate while a stage with tasks
    left has none finished (a training's time says nothing of a probe's), then the features left
    at their own pace; tasks run side by side shorten it."""
    from reprdyn.cli.output import Eta

    now = [0.0]
    eta = Eta(clock=lambda: now[0])
    eta.plan("train", 3)
    eta.plan("features", 10)
    for i in range(3):
        eta.start(f"t{i}")
        now[0] += 100
        eta.done("train", f"t{i}")
        assert eta.text() == ""  # features: nothing measured yet
    eta.start("f0")
    now[0] += 2
    eta.done("features", "f0")
    assert eta.text() == ", ETA 0m18s"  # 9 left x 2 s
    for k in ("f1", "f2"):  # two at once, each 4 s, over the same 4 s
        eta.start(k)
    now[0] += 4
    eta.done("features", "f1")
    eta.done("features", "f2")
    # mean feature task (2 + 4 + 4) / 3 s; 310 s of work in 306 s of wall time
    assert eta.text() == f", ETA 0m{int(7 * 10 / 3 / (310 / 306)):02d}s"
    for i in range(3, 10):
        eta.start(f"f{i}")
        eta.done("features", f"f{i}")
    assert eta.text() == ""  # nothing left


TWO_PROBES = SMALL.replace(
    "probes: [{kind: logistic, transform: abs, standardize: false}]",
    "probes:\n  - {kind: logistic, transform: abs, standardize: false}\n"
    "  - {kind: ridge, name: ridge-probe, transform: abs}\n"
    "inputs: [clean, noisy]",
)


@pytest.fixture(scope="module")
def two_probe_store(tmp_path_factory):
    import reprdyn
    from reprdyn.spec import validate_text

    path = tmp_path_factory.mktemp("summary") / "s.zarr"
    reprdyn.run(validate_text(TWO_PROBES), store=path)
    return path


@pytest.mark.parametrize("width", [80, 100])
def test_the_summary_fits_the_terminal_with_its_headline_first(two_probe_store, width):
    from reprdyn.cli.app import out
    from reprdyn.cli.output import summary
    from reprdyn.read.summary import compare, headline, summarize

    rows, path = summarize(str(two_probe_store)), str(two_probe_store)
    old = out.width
    try:
        out.width = width
        with out.capture() as cap:
            summary(path, [(headline(), rows)], compare(path))
    finally:
        out.width = old
    text = cap.get()
    prose = [line for line in text.splitlines() if not line.startswith(("store:", "query:"))]
    assert max(len(line) for line in prose) <= width  # (a path is never broken)
    assert "dataset toy · layer output" in text  # the same in every row: said once, above
    first = text.split("┏")[1].split("└")[0]
    for head in ("acc@σ*", "probe", "input"):
        assert head in first, head  # the headline, with the coordinates that vary, comes first
    # the headline columns come before the others, wherever the blocks break
    assert max(text.index(h) for h in ("acc@σ*", "gain", "unimodal")) < text.index("CSNR@σ*")
    for r in rows:  # each headline interval is on one line, whole
        assert str(r.best_accuracy) in text and f"{r.probe}" in text


def test_wide_is_one_table_with_every_column(two_probe_store):
    from reprdyn.cli.app import out
    from reprdyn.cli.output import summary
    from reprdyn.read.summary import headline, summarize

    with out.capture() as cap:
        summary(
            str(two_probe_store), [(headline(), summarize(str(two_probe_store)))], [], wide=True
        )
    text = cap.get()
    assert text.count("┏") == 1
    assert all(h in text for h in ("dataset", "layer", "CSNR@σ*", "unimodal", "ensemble acc"))
