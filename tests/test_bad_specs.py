"""The bad-spec corpus: every malformed spec exits 2 with a positioned message, no traceback, no
store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reprdyn.cli import app

HERE = Path(__file__).parent / "bad_specs"
CASES = [
    line.split("\t")
    for line in (HERE / "EXPECTED.tsv").read_text().splitlines()
    if line and not line.startswith("#")
]


def check(path: Path, fragment: str, tmp_path: Path) -> None:
    store = tmp_path / "store.zarr"
    r = CliRunner().invoke(app, ["run", str(path), "--store", str(store)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    assert fragment in r.stderr, r.stderr
    assert re.search(rf"^{re.escape(str(path))}:\d+:\d+: ", r.stderr, re.M), r.stderr
    assert not store.exists()


def test_corpus_is_complete():
    assert len(CASES) >= 30
    assert sorted(name for name, _ in CASES) == sorted(
        p.name for p in HERE.iterdir() if p.name != "EXPECTED.tsv"
    )


@pytest.mark.parametrize("name, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_spec(name, fragment, tmp_path):
    check(HERE / name, fragment, tmp_path)


def test_ten_megabyte_file(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("spec_version: 1\nname: big\n" + "# padding\n" * 1_100_000)
    check(big, "a spec must be under 1,000,000", tmp_path)


def test_a_spec_that_is_a_device_is_refused(tmp_path):
    """A symlink to /dev/zero has st_size 0 and would read forever: it points out of the spec's
    folder, so it is not even opened; a pipe in the folder is refused as not a regular file."""
    import os

    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    check(link, "a link to a file outside its folder or repository", tmp_path)
    os.mkfifo(tmp_path / "pipe.yaml")
    check(tmp_path / "pipe.yaml", "not a regular file", tmp_path)


def test_one_huge_line_is_refused_before_the_yaml_scanner(tmp_path):
    """790 KB on one line, 100k values: refused at once (the scanner takes ~60 us a value)."""
    import time

    big = tmp_path / "line.yaml"
    big.write_text("spec_version: 1\nname: big\nsigma: [" + ", ".join(["0.1"] * 100_000) + "]\n")
    t = time.perf_counter()
    check(big, "a spec holds at most 20,000", tmp_path)
    assert time.perf_counter() - t < 5
