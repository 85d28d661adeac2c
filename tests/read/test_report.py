"""The HTML report: self-contained, and rendered by a real headless browser with every image
decoded."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from reprdyn.cli import app
from reprdyn.read.report import build


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("REPRDYN_REQUIRE_BROWSER"):
        pytest.fail(
            "no headless browser found, and REPRDYN_REQUIRE_BROWSER is set (CI installs chromium)"
        )
    pytest.skip("no chromium on this machine; .ci/run installs it")


def test_report_is_self_contained(small_store):
    html = build(small_store)
    assert html.startswith("<!doctype html>") and "<h2>Summary</h2>" in html
    assert not re.search(r"""(src|href)=['"]?(https?:|//)""", html)  # nothing fetched from outside
    assert html.count("data:image/png;base64,") >= 3
    assert "spec_version: 1" in html and "Provenance" in html


@pytest.mark.slow  # a headless browser
def test_report_renders_in_a_headless_browser(small_store, tmp_path):
    browser = _browser()
    out = tmp_path / "report.html"
    r = CliRunner().invoke(app, ["report", str(small_store), "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    ok = re.search(r'data-images-ok="(\d+)/(\d+)"', dom)
    assert ok, dom[:500]
    assert ok.group(1) == ok.group(2) and int(ok.group(2)) >= 3  # every embedded figure decoded
    assert '<td class="l">toy</td>' in dom  # the summary table made it into the DOM
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={shot}",
            "--window-size=1000,1400",
            out.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    # painted, not blank
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


def test_report_refuses_other_suffixes(small_store, tmp_path):
    r = CliRunner().invoke(app, ["report", str(small_store), "--out", str(tmp_path / "r.pdf")])
    assert r.exit_code == 2 and "a report is an .html file" in r.stderr
