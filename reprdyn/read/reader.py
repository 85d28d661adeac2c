"""Reading a store's cubes straight from zarr, with numpy alone: the command line's fast path.

`reprdyn query`, `ls STORE` and `diff` need a few arrays and their labels, and answer in well under
a second without importing xarray or pandas (which alone take most of a second to import). A `Cube`
is one variable: its dims, one coordinate array per dim, and its values. The Python API
(`reprdyn.open`) returns the same data as xarray objects; a test checks that both read alike.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zarr

from ..errors import StoreError
from ..store import check_layout, damaged, group, read_attrs, require_attrs, sweep_points
from ..store.cube import VARIABLES


def _plain(values: np.ndarray) -> np.ndarray:
    """zarr 3 reads strings as numpy's StringDType: give them back as plain Python strings."""
    return values.astype(object) if values.dtype.kind in "TUO" else values


@dataclass
class Cube:
    """One labelled variable: values with dims, and a coordinate array per dim."""

    name: str
    dims: tuple[str, ...]
    coords: dict[str, np.ndarray]
    values: np.ndarray
    attrs: dict = field(default_factory=dict)

    def take(self, dim: str, index: np.ndarray) -> Cube:
        """The cube at positions `index` of `dim` (the dim is kept)."""
        axis = self.dims.index(dim)
        coords = {**self.coords, dim: self.coords[dim][index]}
        return Cube(
            self.name, self.dims, coords, np.take(self.values, index, axis=axis), self.attrs
        )

    def mean(self, dim: str) -> Cube:
        """Average over `dim`, skipping NaN (as xarray does); the dim goes away."""
        import warnings

        axis = self.dims.index(dim)
        with warnings.catch_warnings():
            # "mean of empty slice": an all-NaN cell stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            values = np.nanmean(self.values, axis=axis)
        return Cube(
            self.name,
            self.dims[:axis] + self.dims[axis + 1 :],
            {d: c for d, c in self.coords.items() if d != dim},
            values,
            self.attrs,
        )

    def rows(self) -> list[tuple]:
        """Tidy rows: one per cell, the coordinate of each dim in order, then the value."""
        if not self.dims:
            return [(self.values.item(),)]
        grids = np.meshgrid(*(np.arange(len(self.coords[d])) for d in self.dims), indexing="ij")
        flat = [g.ravel() for g in grids]
        labels = [self.coords[d][i] for d, i in zip(self.dims, flat)]
        return [
            (*(lab[k] for lab in labels), self.values.ravel()[k]) for k in range(self.values.size)
        ]


class CubeStore:
    """A store's metric variables, read lazily: `names(dataset)`, `cube(dataset, name)`,
    `info(...)`.

    A sweep store joins its points along one leading dim per swept parameter.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.attrs = attrs = require_attrs(self.path)
        self.sweep_dims = attrs["sweep"]["dims"] if "sweep" in attrs else []
        self.points = [
            (v, CubeStore(p))
            for v, p in sweep_points(attrs, self.path)
            if read_attrs(p) is not None
        ]

    @property
    def datasets(self) -> list[str]:
        if self.sweep_dims:
            return self.points[0][1].datasets if self.points else []
        root = zarr.open_group(str(self.path), mode="r", use_consolidated=False)
        return sorted(root["datasets"].group_keys()) if "datasets" in root else []

    def _group(self, dataset: str, part: str = "metrics", layer: str | None = None) -> zarr.Group:
        if dataset not in self.datasets:
            raise StoreError(
                f"unknown dataset {dataset!r} in {self.path}; expected one of {self.datasets}"
            )
        return zarr.open_group(
            str(self.path / group(dataset, part, layer)), mode="r", use_consolidated=False
        )

    @functools.cache
    def _arrays(self, dataset: str) -> dict[str, zarr.Array]:
        """Every array of a dataset's metric group (metadata only; data is read on demand), once
        their shapes are checked against their coordinates."""
        check_layout(self.path, group(dataset, "metrics"))
        try:
            return dict(self._group(dataset).arrays())
        except StoreError:
            raise
        except Exception as e:  # noqa: BLE001 - metadata a store's own writer never makes
            raise damaged(self.path, f"the metrics of {dataset!r}", e) from None

    def _read(self, dataset: str, name: str) -> np.ndarray:
        try:
            return np.asarray(self._arrays(dataset)[name][...])
        except Exception as e:  # noqa: BLE001 - a truncated or corrupt chunk
            raise damaged(self.path, f"variable {name!r} of dataset {dataset!r}", e) from None

    def names(self, dataset: str) -> list[str]:
        """The metric variables of a dataset (coordinates left out)."""
        if self.sweep_dims:
            return self.points[0][1].names(dataset)
        arrays = self._arrays(dataset)
        found = [
            n
            for n, a in arrays.items()
            if tuple(a.metadata.dimension_names or ()) != (n,)
            and n not in _coordinate_names(arrays)
        ]
        # the cube schema's order, then any others by name
        order = {n: i for i, n in enumerate(VARIABLES)}
        return sorted(found, key=lambda n: (order.get(n, len(order)), n))

    def variables(self, dataset: str) -> dict[str, tuple[tuple[str, ...], dict]]:
        """name -> (dims, attributes) of every metric variable, from metadata alone."""
        if self.sweep_dims:
            sub = self.points[0][1].variables(dataset)
            return {n: ((*self.sweep_dims, *dims), attrs) for n, (dims, attrs) in sub.items()}
        arrays = self._arrays(dataset)
        return {
            n: (
                tuple(arrays[n].metadata.dimension_names or ()),
                {k: v for k, v in arrays[n].attrs.items() if not k.startswith("_")},
            )
            for n in self.names(dataset)
        }

    def cube(self, dataset: str, name: str) -> Cube:
        if self.sweep_dims:
            return _join(
                [(values, sub.cube(dataset, name)) for values, sub in self.points], self.sweep_dims
            )
        a = self._arrays(dataset)[name]
        dims = tuple(a.metadata.dimension_names or ())
        coords = {d: self._coordinate(dataset, d, size) for d, size in zip(dims, a.shape)}
        return Cube(
            name,
            dims,
            coords,
            self._read(dataset, name),
            {k: v for k, v in a.attrs.items() if k[0] != "_"},
        )

    @functools.cache
    def _coordinate(self, dataset: str, dim: str, size: int) -> np.ndarray:
        """A dim's coordinate values, read once per store (positions where the dim has none)."""
        arrays = self._arrays(dataset)
        return _plain(self._read(dataset, dim)) if dim in arrays else np.arange(size)

    def coordinates(self, dataset: str) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        """Every coordinate of the metric cube: name -> (dims, values)."""
        if self.sweep_dims:
            sub = self.points[0][1].coordinates(dataset)
            return {
                **{
                    d: ((d,), np.array([v[d] for v, _ in self.points], dtype=object))
                    for d in self.sweep_dims
                },
                **sub,
            }
        arrays = self._arrays(dataset)
        names = list(
            dict.fromkeys(
                d for v in self.names(dataset) for d in arrays[v].metadata.dimension_names
            )
        )
        names += sorted(_coordinate_names(arrays) - set(names))
        return {
            n: (tuple(arrays[n].metadata.dimension_names), _plain(self._read(dataset, n)))
            for n in names
        }

    def layers(self, dataset: str) -> list[str]:
        if self.sweep_dims:
            return self.points[0][1].layers(dataset) if self.points else []
        return sorted(self._group(dataset, "features").group_keys())

    def feature_sizes(self, dataset: str, layer: str) -> dict[str, int]:
        a = self._group(dataset, "features", layer)["features"]
        return dict(zip(a.metadata.dimension_names, a.shape))


def _coordinate_names(arrays: dict) -> set[str]:
    """Non-index coordinates (timestep riding along sigma), as xarray records them on each
    variable."""
    out = set()
    for a in arrays.values():
        out |= set(str(a.attrs.get("coordinates", "")).split())
    return out


def _join(parts: list[tuple[dict, Cube]], sweep_dims: list[str]) -> Cube:
    """Stack the points' cubes along the sweep dims; a label one point lacks is NaN there (an outer
    join)."""
    first = parts[0][1]
    coords = {
        d: np.array(sorted({v[d] for v, _ in parts}, key=lambda x: (str(type(x)), x)), dtype=object)
        for d in sweep_dims
    }
    for d in first.dims:  # labels in the order they are first seen
        seen: dict = {}
        for _, c in parts:
            for x in c.coords[d]:
                seen.setdefault(x, None)
        coords[d] = np.array(list(seen), dtype=first.coords[d].dtype)
    dims = (*sweep_dims, *first.dims)
    values = np.full([len(coords[d]) for d in dims], np.nan)
    for v, c in parts:
        at = tuple(int(np.flatnonzero(coords[d] == v[d])[0]) for d in sweep_dims)
        labels = {d: {x: i for i, x in enumerate(coords[d].tolist())} for d in c.dims}
        where = np.ix_(*(np.array([labels[d][x] for x in c.coords[d].tolist()]) for d in c.dims))
        values[at + tuple(where)] = c.values  # this point's cells of the joined cube
    return Cube(first.name, dims, coords, values, first.attrs)


def align(a: Cube, b: Cube) -> tuple[np.ndarray, np.ndarray] | None:
    """The values of two cubes on the labels they share in every dim (an inner join), or None when
    their dims differ."""
    if a.dims != b.dims:
        return None
    ia, ib = [], []
    for d in a.dims:
        pos_b = {x: i for i, x in enumerate(b.coords[d].tolist())}
        shared = [(i, pos_b[x]) for i, x in enumerate(a.coords[d].tolist()) if x in pos_b]
        ia.append([i for i, _ in shared])
        ib.append([j for _, j in shared])
    if not a.dims:
        return a.values, b.values
    return a.values[np.ix_(*ia)], b.values[np.ix_(*ib)]
