"""reprdyn: representation dynamics of diffusion models, as declarative experiments.

    spec.yaml --load--> Spec --plan--> [Task] --executor--> store (zarr) --query--> tables

Python API: `load_spec(path)`, `run(spec, store=...)`, `open(store)`.
"""
from importlib.metadata import PackageNotFoundError, version

from .runner import run
from .spec import Spec, SpecError, load_spec
from .store import Results
from .store import open_store as open

try:
    __version__ = version("reprdyn")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"

__all__ = ["load_spec", "run", "open", "Spec", "SpecError", "Results", "__version__"]
