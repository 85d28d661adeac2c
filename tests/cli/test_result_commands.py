"""The commands that read results: `query` in its three formats with --sel and --mean, `plot`,
`report` and `export`, each a thin shell over its library function (their own tests are in
tests/read, tests/plot and tests/export); bad input exits 2 and writes nothing."""

from __future__ import annotations

import io
import json

import pandas as pd
from helpers import invoke

import reprdyn


def test_query_formats_agree_with_the_cube(small_store):
    cube = reprdyn.open(small_store)["toy"]["accuracy"]
    args = ("query", small_store, "accuracy", "--sel", "sigma=0.5", "--mean", "seed")
    csv = invoke(*args, "--format", "csv")
    rows = json.loads(invoke(*args, "--format", "json").stdout)
    table = invoke(*args)
    assert csv.exit_code == 0 and table.exit_code == 0
    df = pd.read_csv(io.StringIO(csv.stdout))
    at = cube.sel(sigma=0.5, method="nearest")  # the grid holds 0.5 to the last bit or so
    assert len(df) == len(rows) == at.mean("seed").size
    want = at.sel(label_noise=0.4).mean("seed").squeeze().values
    assert df[df.label_noise == 0.4].accuracy.iloc[0] == float(want)
    assert "accuracy" in table.stdout and "seed" not in table.stdout.splitlines()[0]


def test_query_notes_the_nearest_value_on_stderr(small_store):
    r = invoke("query", small_store, "accuracy", "--sel", "sigma=0.6", "--format", "csv")
    assert r.exit_code == 0 and "took the nearest grid value, sigma=0.5" in r.stderr
    assert "nearest" not in r.stdout  # the data stays pure


def test_query_of_an_unknown_variable_exits_2(small_store):
    r = invoke("query", small_store, "acuracy")
    assert r.exit_code == 2 and "acuracy" in r.stderr and "accuracy" in r.stderr


def test_plot_and_report_write_their_files(small_store, tmp_path):
    r = invoke("plot", small_store, "--figure", "curves", "--out", tmp_path / "c.png")
    assert r.exit_code == 0 and (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    r = invoke("report", small_store, "--out", tmp_path / "r.html")
    assert r.exit_code == 0 and "<html" in (tmp_path / "r.html").read_text()[:500].lower()


def test_plot_refuses_an_unknown_format_and_writes_nothing(small_store, tmp_path):
    r = invoke("plot", small_store, "--figure", "curves", "--out", tmp_path / "c.bmp")
    assert r.exit_code == 2 and "expected one of .png, .svg, .pdf" in r.stderr
    assert not (tmp_path / "c.bmp").exists()


def test_export_lists_the_trackers_it_knows(small_store):
    r = invoke("export", small_store, "--to", "wandb")
    assert r.exit_code == 2 and "mlflow" in r.stderr
