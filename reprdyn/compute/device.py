"""Where and on how many threads torch work runs: the device a spec's `compute.device` names, and
the thread count of `compute.threads`, set before every task so no other code's setting leaks in."""

from __future__ import annotations

import torch

AUTO_THREADS = 1  # benchmarks/threads.py: one thread was as fast or faster on 2 cores, busy or idle


def task_threads(setting: int | str) -> int:
    """The torch thread count of a spec's `compute.threads`."""
    return AUTO_THREADS if setting == "auto" else int(setting)


def use_threads(setting: int | str) -> None:
    """Run the following work on `compute.threads` threads (called before every task): torch's
    own, and the BLAS numpy calls, whose thread count decides how a matrix product is split and
    so its last bit. A Dask or SLURM worker starts with one BLAS thread and this process with one
    per core: set here, the same task gives the same numbers on every path."""
    from threadpoolctl import threadpool_limits

    n = task_threads(setting)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")


def pick_device(name: str) -> str:
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"
