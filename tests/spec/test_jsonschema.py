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
    return tmp / "schema.json", out


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


@pytest.mark.slow  # check-jsonschema and ajv in subprocesses
def test_check_jsonschema_agrees_on_the_yaml_files(docs):
    beside = Path(sys.executable).parent / "check-jsonschema"  # the test's own environment
    exe = str(beside) if beside.exists() else shutil.which("check-jsonschema")
    _client(exe is not None, "check-jsonschema")
    schema, items = docs
    for path, _, valid in items:
        run = subprocess.run([exe, "--schemafile", str(schema), str(path)], capture_output=True)
        assert (run.returncode == 0) == valid, (path, run.stdout.decode())
