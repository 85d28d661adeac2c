"""The sigma grid of a spec: a list of sigmas, or a range expanded into one."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .datacfg import Strict

MAX_GRID = 10_000  # points of a sigma grid, and entries of any list a spec gives

Sigma = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class SigmaRange(Strict):
    """`num` points from `start` to `stop` (inclusive), log- or linearly spaced."""

    # a log grid (the default scale) from 0 is refused by the schema too, not only by `_check`
    model_config = {
        **Strict.model_config,
        "json_schema_extra": {
            "if": {"type": "object", "properties": {"scale": {"const": "log"}}},
            "then": {
                "type": "object",
                "properties": {"start": {"type": "number", "exclusiveMinimum": 0}},
            },
        },
    }

    start: Sigma
    stop: Sigma
    num: int = Field(ge=1, le=MAX_GRID)
    scale: Literal["log", "linear"] = "log"

    @model_validator(mode="after")
    def _check(self) -> SigmaRange:
        if self.scale == "log" and self.start <= 0:
            raise ValueError(
                "a log-scaled grid needs start > 0; use scale: linear or a start like 0.001"
            )
        if self.stop < self.start:
            raise ValueError(f"stop ({self.stop}) must be at least start ({self.start})")
        if self.num > 1 and self.stop == self.start:
            raise ValueError("start equals stop, so the grid would hold duplicates; use num: 1")
        return self

    def values(self) -> list[float]:
        import numpy as np  # only when a grid is expanded

        if self.scale == "log":
            v = np.geomspace(self.start, self.stop, self.num)
        else:
            v = np.linspace(self.start, self.stop, self.num)
        return [float(x) for x in v]


def grid_kind(v) -> str | None:
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, (dict, SigmaRange)):
        return "range"
    return None
