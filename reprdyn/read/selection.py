"""`--sel DIM=VALUE`, parsed once and read one way by `query` and `plot`.

On a float coordinate (sigma, label noise) the nearest grid value is taken, the dim is kept, and a
note says which value it took when that is not the one asked for; a value further than one grid
step beyond either end is an error. On an integer or string coordinate the value must exist.
"""

from __future__ import annotations

import numpy as np

from ..errors import QueryError, did_you_mean


def parse(items: list[str]) -> list[tuple[str, str]]:
    """'sigma=0.5' -> ('sigma', '0.5'), for every item."""
    out = []
    for item in items:
        dim, eq, value = item.partition("=")
        if not eq or not dim.strip() or not value.strip():
            raise QueryError(
                f"--sel {item!r}: expected DIM=VALUE, for example sigma=0.5 or layer=output"
            )
        out.append((dim.strip(), value.strip()))
    return out


def pick(coord: np.ndarray, dim: str, raw: str, dims, notes: list[str]) -> int:
    """The index of `raw` along a coordinate (see the module's rules); `dims` are the dims there
    are, for the message when `dim` is not one of them."""
    if coord is None:
        raise QueryError(f"--sel {dim}={raw}: there is no dim {dim!r}; the dims are {list(dims)}")
    coord = np.asarray(coord)
    if coord.dtype.kind in "fiu":
        try:
            value = float(raw)
        except ValueError:
            raise QueryError(f"--sel {dim}={raw}: {dim!r} is numeric; give a number") from None
        if coord.dtype.kind == "f":
            return _nearest(coord, value, dim, raw, notes)
        hits = np.flatnonzero(coord == value)
        if not len(hits):
            raise QueryError(f"--sel {dim}={raw}: no such {dim}; expected one of {coord.tolist()}")
        return int(hits[0])
    values = [str(v) for v in coord]
    if raw not in values:
        raise QueryError(
            f"--sel {dim}={raw}: no such {dim}; expected one of {values}"
            + did_you_mean(raw, values)
        )
    return values.index(raw)


def _nearest(coord: np.ndarray, value: float, dim: str, raw: str, notes: list[str]) -> int:
    """Index of the grid value nearest `value`; refuses values more than one grid step beyond
    either end."""
    lo, hi = float(coord.min()), float(coord.max())
    ordered = np.sort(coord)
    step_lo = ordered[1] - ordered[0] if len(coord) > 1 else max(abs(lo), 1e-12)
    step_hi = ordered[-1] - ordered[-2] if len(coord) > 1 else max(abs(hi), 1e-12)
    if value < lo - step_lo or value > hi + step_hi:
        raise QueryError(
            f"--sel {dim}={raw}: outside the grid, which runs from {lo:.4g} to {hi:.4g} "
            f"({len(coord)} values); give a value inside it"
        )
    i = int(np.argmin(np.abs(coord - value)))
    # 0.5 for a grid value stored as 0.49999999999999994
    if not np.isclose(coord[i], value, rtol=1e-9, atol=0):
        notes.append(f"--sel {dim}={raw}: took the nearest grid value, {dim}={float(coord[i]):.6g}")
    return i


def select(ds, items, notes: list[str] | None = None):
    """An xarray Dataset narrowed by DIM=VALUE items; every dim is kept."""
    notes = [] if notes is None else notes
    for dim, raw in parse(list(items)):
        coord = ds[dim].values if dim in ds.dims else None
        ds = ds.isel({dim: [pick(coord, dim, raw, ds.dims, notes)]})
    return ds
