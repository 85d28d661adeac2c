"""Threads and devices: every task runs torch and numpy's BLAS at the spec's thread count, so a
local run and a Dask or SLURM worker (which starts with one BLAS thread) split every product
alike."""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from reprdyn.compute.device import pick_device, task_threads, use_threads


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_a_task_sets_torch_and_blas_threads_to_the_spec():
    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS is loaded
    before = torch.get_num_threads()
    with threadpool_limits(limits=None):  # restore whatever was set, afterwards
        try:
            use_threads(1)
            assert torch.get_num_threads() == 1 and _blas_threads() == {1}
            use_threads(2)
            assert torch.get_num_threads() == 2 and _blas_threads() == {2}
        finally:
            torch.set_num_threads(before)
    assert task_threads("3") == 3


def test_cpu_is_picked_on_a_machine_without_an_accelerator():
    assert pick_device("cpu") == "cpu"
    assert pick_device("auto") in {"cpu", "cuda", "mps"}
