"""The metric registry: a metric is one module's record, and everything else follows from it.

A toy metric declared here, in this file alone, reaches the spec's schema and settings, a run, the
cube, `query`, `ls` and `verify`, with no other change to reprdyn.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import SMALL, invoke
from pydantic import Field

from reprdyn import metrics
from reprdyn.metrics.base import Metric, Settings, Stage, Variable

VARIABLES = {
    "feature_norm": Variable(
        ("sigma", "layer", "input"),
        "mean norm of the features at sigma (analysis subset)",
        long_name="mean feature norm",
    )
}


class NormSettings(Settings):
    """The toy metric's settings block."""

    order: int = Field(2, ge=1, le=4, description="the norm's order")


def _norm(cell) -> dict:
    """Mean `order`-norm of a layer's features at every sigma, on the analysis subset."""
    order = cell.spec.feature_norm.order
    norms = [np.mean(np.linalg.norm(X, ord=order, axis=1)) for X in cell.X]
    return {"feature_norm": np.reshape(norms, (-1, 1, 1))}  # (sigma, layer, input)


TOY = Metric(
    name="feature_norm",
    stage=Stage.ANALYSIS,
    about="mean norm of a layer's features at every sigma (a toy, for the registry's tests)",
    variables=VARIABLES,
    compute=_norm,
    reads={"pooled"},
    settings=("feature_norm", NormSettings),
)


@pytest.fixture
def toy():
    metrics.register(TOY)
    yield TOY
    metrics.unregister(TOY.name)


def test_every_builtin_metric_is_one_module_with_a_record():
    import importlib
    import pkgutil

    import reprdyn.metrics as package

    modules = {m.name for m in pkgutil.iter_modules(package.__path__)} - {"base"}
    assert modules == {m.name for m in metrics.builtin()}
    for name in modules:
        record = importlib.import_module(f"reprdyn.metrics.{name}").METRIC
        assert record.name == name and record.variables
        assert all(name in v.metrics for v in record.variables.values())


def test_unknown_metric_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown metric 'x'; expected one of accuracy, "):
        metrics.get("x")


def test_a_toy_metric_from_one_file_reaches_schema_run_query_ls_and_verify(toy, tmp_path):
    import reprdyn
    from reprdyn.spec import Spec, validate_text

    # the schema: its name in the vocabulary, its settings block beside the others
    schema = Spec.model_json_schema()
    assert "feature_norm" in schema["properties"]["metrics"]["items"]["enum"]
    assert "feature_norm" in schema["properties"]
    r = invoke("schema")
    assert r.exit_code == 0 and '"feature_norm"' in r.stdout
    # its settings validate like any block: a bad value is refused at its place
    text = SMALL + "metrics: [accuracy, feature_norm]\nfeature_norm: {order: 1}\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL + "metrics: [accuracy, feature_norm]\nfeature_norm: {order: 9}\n")
    r = invoke("validate", str(bad))
    assert r.exit_code == 2 and "feature_norm.order" in r.stderr

    # a run computes it in its stage, into the cube
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(text)
    store = tmp_path / "s.zarr"
    r = invoke("run", str(spec_file), "--store", str(store))
    assert r.exit_code == 0, r.stderr
    cube = reprdyn.open(store)["toy"].load()
    assert cube["feature_norm"].attrs["long_name"] == "mean feature norm"

    # against a brute force from the stored features: the analysis subset is the whole test split
    spec = validate_text(text)
    feats = reprdyn.open(store).features("toy", "output")["features"].load()
    test = feats.sel(input="clean", replicate=0).where(feats.split == "test", drop=True)
    brute = np.abs(test.values).sum(-1).mean(-1)  # (sigma,): the 1-norm, as the spec asks
    np.testing.assert_allclose(
        cube["feature_norm"].sel(replicate=0, layer="output", input="clean").values, brute, 1e-5
    )
    assert spec.feature_norm.order == 1

    # query and ls show it
    r = invoke("query", str(store), "feature_norm", "--format", "json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == len(spec.sigmas)
    r = invoke("ls", str(store))
    assert r.exit_code == 0 and "feature_norm" in r.stdout

    # verify reads its region: emptied, the analysis task is found out
    assert invoke("verify", str(store)).exit_code == 0
    import zarr

    zarr.open_array(str(store / "datasets/toy/metrics/feature_norm"), mode="r+")[...] = np.nan
    r = invoke("verify", str(store))
    assert r.exit_code == 1 and "analysis toy" in r.stderr and "feature_norm" in r.stderr


def test_unregistering_takes_the_metric_out_of_the_schema(toy):
    from reprdyn.spec import Spec

    metrics.unregister(TOY.name)
    assert "feature_norm" not in Spec.model_json_schema()["properties"]
    metrics.register(TOY)  # the fixture takes it out again
