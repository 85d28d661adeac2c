"""The store as the stages see it: what upstream tasks wrote, and one task's region to write.

A stage never opens zarr by path: the runner (or a Dask worker) hands every task a `StoreIO`, which
knows the layout. Reads are lazy; writes go to the task's own chunks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import RowWriter, allocate, group, no_fill, write_region
from .results import open_group

if TYPE_CHECKING:
    import xarray as xr


class StoreIO:
    def __init__(self, path):
        self.path = str(path)

    def metrics(self, dataset: str) -> xr.Dataset:
        """A dataset's metric cube, lazily."""
        return open_group(self.path, group(dataset, "metrics"))

    def features(self, dataset: str, layer: str) -> xr.DataArray:
        """One layer's pooled features ([model,] replicate, sigma, input, sample, channel),
        lazily."""
        return open_group(self.path, group(dataset, "features", layer))["features"]

    def write(self, dataset: str, part: xr.Dataset) -> None:
        """A region of a dataset's metric cube, placed by its coordinates."""
        write_region(self.path, group(dataset, "metrics"), part)

    def rows(self, dataset: str, layer: str, at: tuple) -> RowWriter:
        """A writer of (B, C) feature rows into one (model, replicate, sigma, input) of a layer."""
        import zarr

        array = zarr.open_array(
            f"{self.path}/{group(dataset, 'features', layer)}/features", mode="r+"
        )
        return RowWriter(array, at, array.chunks[-2])

    def write_data(self, dataset: str, ds: xr.Dataset) -> None:
        """A dataset's per-sample labels and splits (and its data extras), described (CF)."""
        from .cube import describe

        ds = describe(ds)
        path, grp = self.path, group(dataset, "data")
        ds.to_zarr(path, group=grp, mode="w", consolidated=False, encoding=no_fill(ds))

    def allocate_metrics(self, spec, dataset: str, data) -> None:
        """The NaN-filled arrays of a dataset's metric cube (`reprdyn.store.cube`); arrays already
        there are kept, with what finished tasks wrote into them."""
        from . import cube

        range_ = data.meta.get("data_range", 2.0)
        template = cube.template(spec, data.classes, data.mask_classes, range_)
        allocate(self.path, group(dataset, "metrics"), template, cube.chunks(spec))

    def allocate_features(self, spec, dataset: str, data, layer: str, channels: int, rows: int):
        """One layer's NaN-filled feature cube, chunked `rows` samples at a time at most; an array
        already there is kept."""
        from . import cube

        template, chunks = cube.features_template(spec, data, channels, rows)
        allocate(self.path, group(dataset, "features", layer), template, chunks)
