"""The spec's settings blocks that no one metric owns: the analyses (tolerance, bootstrap,
confidence) and compute. Each metric declares its own block (`reprdyn.metrics`)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StrictInt, field_validator

from .datacfg import Strict, path_field

DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:[0-9]+)?)$")  # the devices a spec may name


class Analysis(Strict):
    """Settings of the curve and feature analyses (docs/theory.md §6)."""

    tolerance: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="unimodality: allowed dip against the trend, as a share of the curve's range",
    )
    flat: float = Field(
        0.01,
        ge=0,
        lt=1,
        description="curve shape: a curve whose range across sigma is at most this (in accuracy or "
        "mIoU) is flat, and never unimodal",
    )
    max_samples: int = Field(
        1000, gt=1, le=10_000_000, description="sw_distance / cka: test samples used (a subset)"
    )
    projections: int = Field(128, gt=0, le=100_000, description="sw_distance: random projections")
    bootstrap: StrictInt = Field(
        1000,
        ge=0,
        le=100_000,
        description="paired bootstrap resamples of the test (and validation) samples behind every "
        "interval (docs/theory.md §8); 0 turns intervals off",
    )
    confidence: float = Field(
        0.95,
        gt=0.5,
        lt=1,
        description="level of every interval, and of the yes / no verdicts (unimodal: uncertain "
        "between 1 - confidence and confidence)",
    )
    seed: int = Field(0, description="seed of the subset, the projections and the bootstrap")


# fields kept only to refuse them with a reason: (field, the message; {v} is the value)
_RETIRED = {
    "batch_size": "compute.batch_size is no longer used: the network always runs on aligned blocks "
    "of 64 samples, so results never depend on a batch size (an out-of-memory error on a GPU "
    "splits the blocks and says so); delete this line",
    "address": "a spec cannot name a Dask scheduler: Dask runs pickled code, so a shared spec "
    "would choose which machine runs code for you. Remove `address` and pass it when you run: "
    "reprdyn run SPEC --dask {v} (or set REPRDYN_DASK_ADDRESS={v})",
}


class Compute(Strict):
    device: str = Field(
        "auto",
        description="auto | cpu | mps | cuda | cuda:N",
        json_schema_extra={"pattern": DEVICE.pattern, "examples": ["auto", "cpu", "cuda:0"]},
    )
    batch_size: int | None = Field(
        None,
        description="removed: the network always runs on aligned blocks of 64 "
        "samples, so that no number depends on a batch size",
        json_schema_extra={"not": {"type": "integer"}},
    )
    executor: Literal["local", "dask"] = Field(
        "local", description="local (in process) | dask (a cluster)"
    )
    address: str | None = Field(
        None,
        description="not allowed in a spec: a shared spec must not choose the "
        "machine that runs code for you; pass `reprdyn run --dask ADDRESS` or set "
        "REPRDYN_DASK_ADDRESS",
        json_schema_extra={"not": {"type": "string"}},
    )
    n_workers: int = Field(
        2, ge=1, le=1024, description="dask without address: LocalCluster worker processes"
    )
    threads_per_worker: int = Field(
        1, ge=1, le=1024, description="dask: tasks a worker runs at once"
    )
    threads: Annotated[int, Field(ge=1, le=1024)] | Literal["auto"] = Field(
        "auto",
        description="torch threads of every task (and every dask worker's task); auto: 1, which "
        "measured fastest on shared CPUs (see benchmarks/README.md); results are bit-identical for "
        "a given thread count",
    )
    retries: int = Field(
        2,
        ge=0,
        le=100,
        description="dask: how many times a task is run again after the worker running it died "
        "(the scheduler's allowed failures); a task's own error is reported once, never retried",
    )
    max_store_gb: float | None = Field(
        None, gt=0, description="refuse to run if the feature store would be larger"
    )
    max_memory_gb: float | None = Field(
        None, gt=0, description="refuse to run if peak memory would be larger"
    )
    cache: str | None = path_field(
        "write",
        "checkpoint cache, relative to the spec's folder and inside its folder or repository "
        "(anywhere else: --set compute.cache=PATH); default $REPRDYN_CACHE or ~/.cache/reprdyn",
        None,
    )

    @field_validator(*_RETIRED)
    @classmethod
    def _retired(cls, v, info):
        """Fields a spec may no longer set: each says why, and what to do instead."""
        if v is not None:
            raise ValueError(_RETIRED[info.field_name].format(v=v))
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v):
        if not DEVICE.fullmatch(v):
            raise ValueError(f"unknown device {v!r}; expected auto, cpu, mps, cuda or cuda:N")
        return v
