"""Run: a spec's tasks executed into its store — the session (`session.run`: preflight, plan,
executor, summary; sweeps point by point), the executors (local, Dask, SLURM through
dask-jobqueue), the per-run context that caches data and models, the memory and disk budget, and
the file and network checks a spec gets before it runs.

The public names load on first use (PEP 562): `import reprdyn.runner.options` stays light.
"""

from importlib import import_module

_API = {
    "run": ".session",
    "train": ".session",
    "plan_status": ".session",
    "describe_layers": ".session",
    "concrete": ".session",
    "RunOptions": ".options",
    "Hooks": ".options",
    "TasksFailed": ".options",
}
__all__ = list(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'reprdyn.runner' has no attribute {name!r}")
    return getattr(import_module(_API[name], __name__), name)
