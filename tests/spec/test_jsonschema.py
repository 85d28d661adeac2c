"""The spec's JSON Schema against the clients that read it: ajv in strict mode (from npm) and
check-jsonschema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reprdyn.spec.jsonschema import DIALECT, ID, export

ROOT = Path(__file__).parents[2]


SPECS = sorted((ROOT / "specs").glob("*.yaml"))


AJV = ROOT / ".ci" / "node" / "node_modules" / "ajv"  # .ci/run installs it


REQUIRED = os.environ.get("REPRDYN_REQUIRE_CLIENTS") == "1"  # CI: the clients must be there


CHECK = """
const Ajv2020 = require(process.argv[2] + "/dist/2020");
const fs = require("fs");
for (const strict of [true, undefined]) {  // all strict options, and ajv's defaults
  const ajv = new Ajv2020(strict ? {strict: true, allErrors: true} : {allErrors: true});
  const validate = ajv.compile(JSON.parse(fs.readFileSync(process.argv[3])));
  for (const f of process.argv.slice(4)) {
    const ok = validate(JSON.parse(fs.readFileSync(f)));
    console.log(JSON.stringify([f, ok]));
  }
}
"""


def _client(available: bool, what: str) -> None:
    if not available:
        if REQUIRED:
            pytest.fail(f"{what} is not installed (REPRDYN_REQUIRE_CLIENTS=1)")
        pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """The schema, and the documents to check as (YAML path, JSON path, valid?)."""
    from ruamel.yaml import YAML

    tmp = tmp_path_factory.mktemp("js")
    (tmp / "schema.json").write_text(json.dumps(export()))
    out = []
    child = tmp / "child.yaml"
    child.write_text(
        f"extends: {SPECS[0]}\nmodel: {{train: {{epochs: 5}}}}\nlabel_noise: [0, 0.4]\n"
    )
    broken = {
        "unknown-key.yaml": "spec_version: 1\nname: x\ndatasets: []\nsigmas: [1]\n",
        "missing-datasets.yaml": "spec_version: 1\nname: x\nmodel: {kind: molrg-optimal}\n",
        "bad-device.yaml": "spec_version: 1\nname: x\ndatasets: []\ncompute: {device: gpu0}\n",
    }
    for name, text in broken.items():
        (tmp / name).write_text(text)
    for path, valid in [*((s, True) for s in SPECS), (child, True)] + [
        (tmp / n, False) for n in broken
    ]:
        as_json = tmp / (path.stem + ".json")
        as_json.write_text(json.dumps(YAML(typ="safe").load(path.read_text())))
        out.append((path, as_json, valid))
    for path, data in bad_specs():  # valid to the schema exactly when it cannot tell
        as_json = tmp / f"bad-{path.stem}.json"
        as_json.write_text(json.dumps(data))
        out.append((path, as_json, path.name in UNCATCHABLE))
    return tmp / "schema.json", out


# the repository's bad specs that JSON Schema cannot refuse, each with the reason; every other
# one the schema refuses as `validate` does (editors flag it before a run)
UNCATCHABLE = {
    "11-nan-sigma.yaml": "JSON has no NaN: the value cannot reach a JSON Schema validator",
    "12-inf-sigma.yaml": "JSON has no Infinity",
    "15-unknown-layer.yaml": "which layers exist depends on the network, built from the spec",
    "33-timesteps-without-vp.yaml": "a rule across the grid and every model's preconditioning",
    "36-train-data-unknown.yaml": "a reference to another field's values (the dataset names)",
    "37-extends-itself.yaml": "the files a spec extends are read from disk",
    "38-extends-missing.yaml": "the files a spec extends are read from disk",
    "39-npz-missing.yaml": "whether a data file exists is on disk",
    "40-vp-sigma-out-of-range.yaml": "the range is computed from the model's noise schedule",
    "41-csnr-theory-delta-zero.yaml": "a rule across the metrics and every dataset's delta",
    "44-segmentation-without-masks.yaml": "a rule across the metrics and every dataset's masks",
    "54-edm-sigma-zero.yaml": "the range depends on each model's preconditioning",
}


def bad_specs():
    """(path, data) of every bad spec of the repository that parses as YAML into JSON (the rest
    cannot reach a JSON Schema validator at all: broken YAML, binary, a folder, tabs)."""
    from reprdyn.errors import SpecError
    from reprdyn.spec.text import NodeBudget, parse_yaml, plain, read

    for path in sorted((ROOT / "tests" / "bad_specs").glob("*.yaml")):
        try:  # reprdyn's bounded parser: an alias bomb is refused, not expanded into JSON
            data = plain(parse_yaml(read(path), path.name), NodeBudget(path.name))
            json.dumps(data, allow_nan=False)
        except (SpecError, ValueError):  # not YAML, not text, a bomb, or NaN
            continue
        yield path, data


def test_the_schema_refuses_every_bad_spec_it_can_express():
    """What JSON Schema can say, the schema says: minItems, uniqueItems, bounds, patterns, the
    fields a spec may not set; each bad spec it lets through is listed above with the reason."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(export())
    passed = {p.name for p, data in bad_specs() if validator.is_valid(data)}
    nan = {n for n in UNCATCHABLE if "NaN" in UNCATCHABLE[n] or "Infinity" in UNCATCHABLE[n]}
    assert passed == set(UNCATCHABLE) - nan


def test_a_base_file_has_a_schema_of_its_own():
    """A base file rightly has no `name`: the base schema (nothing required) accepts it, still
    refuses a bad value, and is shipped current."""
    import jsonschema

    from reprdyn.spec.jsonschema import export_base

    base = jsonschema.Draft202012Validator(export_base())
    assert base.is_valid({"sigma": [0.1, 1.0], "probes": [{"kind": "ridge"}]})
    assert not base.is_valid({"sigma": [0.1, 0.1]}) and not base.is_valid({"seed": "x"})
    assert not jsonschema.Draft202012Validator(export()).is_valid({"sigma": [0.1, 1.0]})
    shipped = json.loads((ROOT / "reprdyn.base.schema.json").read_text())
    assert shipped == export_base(), "regenerate: reprdyn schema --base > reprdyn.base.schema.json"


def test_the_schema_names_its_dialect_and_id():
    schema = export()
    assert schema["$schema"] == DIALECT and schema["$id"] == ID
    text = json.dumps(schema)
    assert "x-path" not in text and "discriminator" not in text


def test_the_shipped_schema_is_current():
    shipped = json.loads((ROOT / "reprdyn.schema.json").read_text())
    assert shipped == export(), "regenerate: reprdyn schema > reprdyn.schema.json"


def test_ajv_compiles_it_strictly_and_agrees(docs):
    _client(shutil.which("node") is not None and AJV.is_dir(), "node with ajv (.ci/node)")
    schema, items = docs
    script = schema.parent / "check.js"
    script.write_text(CHECK)
    run = subprocess.run(
        ["node", str(script), str(AJV), str(schema), *(str(j) for _, j, _ in items)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr  # compiled in strict mode
    verdicts = [json.loads(line) for line in run.stdout.splitlines()]
    want = {str(j): valid for _, j, valid in items}
    assert len(verdicts) == 2 * len(items)
    assert all(ok == want[f] for f, ok in verdicts), verdicts


def test_check_jsonschema_agrees_on_the_yaml_files(docs):
    beside = Path(sys.executable).parent / "check-jsonschema"  # the test's own environment
    exe = str(beside) if beside.exists() else shutil.which("check-jsonschema")
    _client(exe is not None, "check-jsonschema")
    schema, items = docs
    # one run over every file (a run costs seconds); its JSON report names each failing file
    run = subprocess.run(
        [exe, "-o", "json", "--schemafile", str(schema), *(str(p) for p, _, _ in items)],
        capture_output=True,
        text=True,
    )
    report = json.loads(run.stdout)
    assert not report.get("parse_errors"), report["parse_errors"]
    failed = {Path(e["filename"]).resolve() for e in report["errors"]}
    want = {p.resolve() for p, _, valid in items if not valid}
    assert failed == want, failed ^ want
