#!/usr/bin/env bash
# Install the oldest release of every direct dependency that pyproject.toml allows
# (uv's lowest-direct resolution) in a throwaway venv, then run the test suite there.
#   bash scripts/check_floors.sh [VENV]          (default /tmp/reprdyn-floors)
# Downloads the CUDA build of the oldest allowed torch (~3 GB) from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-/tmp/reprdyn-floors}
python3 -m venv "$venv"
"$venv/bin/pip" install -q uv
# pyarrow >= 20 needs numpy 2; the numpy floor is 1.26, so keep a pyarrow that runs beside it
echo "pyarrow<20" > "$venv/constraints.txt"
"$venv/bin/uv" pip install --python "$venv/bin/python" --resolution lowest-direct \
    -c "$venv/constraints.txt" -e ".[test]"
"$venv/bin/python" -c "import importlib.metadata as m; print(*(f'{p} {m.version(p)}' for p in
    ['torch', 'zarr', 'xarray', 'numpy', 'pandas', 'scikit-learn', 'pydantic', 'typer', 'rich', 'matplotlib',
     'ruamel.yaml', 'POT', 'datasets', 'diffusers', 'huggingface_hub', 'safetensors', 'dask']), sep=', ')"
OMP_NUM_THREADS=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider
