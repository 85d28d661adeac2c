"""reprdyn: representation dynamics of diffusion models, as declarative experiments.

    spec.yaml --load--> Spec --plan--> [Task] --executor--> store (zarr) --query--> tables

Python API: `load_spec(path)`, `run(spec, store=...)`, `open(store)`. They are
imported on first use (PEP 562), so `import reprdyn` loads neither torch nor
the store libraries.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reprdyn")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"

_API = {  # name -> (module, attribute)
    "load_spec": (".spec", "load_spec"),
    "Spec": (".spec", "Spec"),
    "SpecError": (".errors", "SpecError"),
    "run": (".runner", "run"),
    "RunOptions": (".runner", "RunOptions"),
    "open": (".store", "open_store"),
    "Results": (".store", "Results"),
}
__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'reprdyn' has no attribute {name!r}")
    module, attr = _API[name]
    return getattr(import_module(module, __name__), attr)


def __dir__() -> list[str]:
    return sorted(__all__)
