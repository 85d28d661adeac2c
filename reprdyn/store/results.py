"""Reading a store back as xarray: `Results`, a dataset's metric cube, features and data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import StoreError
from . import layout

if TYPE_CHECKING:
    import xarray as xr


def _tidy(ds: xr.Dataset) -> xr.Dataset:
    """Plain object dtype for string coords (zarr v3 reads them as StringDType)."""
    fix = {c: ds[c].astype(object) for c in ds.coords if ds[c].dtype.kind == "T"}
    return ds.assign_coords(fix) if fix else ds


def open_group(path: str | Path, grp: str) -> xr.Dataset:
    import xarray as xr

    layout.check_layout(path, grp)
    try:  # lazy, no dask graph
        return _tidy(xr.open_zarr(str(path), group=grp, consolidated=False, chunks=None))
    except Exception as e:  # noqa: BLE001 - metadata a store's own writer never makes
        raise layout.damaged(path, grp, e) from None


def load_group(path: str | Path, grp: str) -> xr.Dataset:
    """A (small) group read into memory variable by variable, so damage names the variable."""
    ds = open_group(path, grp)
    for v in list(ds.variables):
        try:
            ds[v].load()
        except Exception as e:  # noqa: BLE001 - a truncated or corrupt chunk
            raise layout.damaged(path, f"variable {v!r} of {grp}", e) from None
    return ds


def _swept(ds: xr.Dataset, values: dict, sweep: dict) -> xr.Dataset:
    """One sweep point's cube with a leading dim per swept field, named and described (CF)."""
    out = ds.expand_dims({d: [values[d]] for d in sweep["dims"]})
    for d, path in zip(sweep["dims"], sweep.get("paths", sweep["dims"])):
        out[d].attrs.update(long_name=f"swept spec field {path}", units="1")
    return out


class Results:
    """A read-only view of a store: `res["molrg"]` is that dataset's metric cube.

    `res.features(dataset, layer)` gives the feature cube, `res.data(dataset)` the stored data
    extras, `res.attrs` the provenance. For a sweep store, `res["molrg"]` joins the points' cubes
    along one dim per swept parameter, and `res.point(n_train=64)` is one point's own Results.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.attrs = attrs = layout.require_attrs(self.path)
        self.points = [
            (v, Results(sub))
            for v, sub in layout.sweep_points(attrs, self.path)
            if layout.read_attrs(sub) is not None
        ]
        self.sweep_dims = attrs["sweep"]["dims"] if "sweep" in attrs else []
        if self.sweep_dims:
            self.datasets = self.points[0][1].datasets if self.points else []
        else:
            root = layout.open_group(self.path)
            self.datasets = sorted(root["datasets"].group_keys()) if "datasets" in root else []

    def _check(self, dataset: str) -> None:
        if dataset not in self.datasets:
            raise StoreError(
                f"unknown dataset {dataset!r} in {self.path}; expected one of {self.datasets}"
            )

    def __getitem__(self, dataset: str) -> xr.Dataset:
        import xarray as xr

        self._check(dataset)
        if not self.sweep_dims:
            return load_group(self.path, layout.group(dataset, "metrics"))
        parts = [_swept(res[dataset], values, self.attrs["sweep"]) for values, res in self.points]
        return xr.combine_by_coords(
            parts,
            combine_attrs="drop_conflicts",
            data_vars="all",
            coords="different",
            compat="no_conflicts",
            join="outer",
        )

    def point(self, **values) -> Results:
        """One sweep point's Results, chosen by its values (e.g. n_train=64)."""
        for v, res in self.points:
            if all(str(v.get(k)) == str(x) for k, x in values.items()) and set(values) <= set(v):
                return res
        raise StoreError(
            f"no sweep point {layout.point_label(values)} in {self.path}; points: "
            f"{'; '.join(layout.point_label(v) for v, _ in self.points) or 'none yet'}"
        )

    def _whole(self, what: str) -> None:
        if self.sweep_dims:
            raise StoreError(
                f"{self.path} is a sweep over {', '.join(self.sweep_dims)}: {what} differ between "
                f"points; pick one with res.point({self.sweep_dims[0]}=...)"
            )

    def layers(self, dataset: str) -> list[str]:
        self._check(dataset)
        if self.sweep_dims:
            return self.points[0][1].layers(dataset)
        g = layout.open_group(self.path, layout.group(dataset, "features"))
        return sorted(g.group_keys())

    def features(self, dataset: str, layer: str) -> xr.Dataset:
        self._whole("features")
        if layer not in self.layers(dataset):
            raise StoreError(
                f"unknown layer {layer!r} for dataset {dataset!r}; expected one of "
                f"{self.layers(dataset)}"
            )
        return open_group(self.path, layout.group(dataset, "features", layer))

    def data(self, dataset: str) -> xr.Dataset:
        self._whole("data")
        self._check(dataset)
        return open_group(self.path, layout.group(dataset, "data"))

    def __repr__(self) -> str:
        sweep = f", sweep={self.sweep_dims}" if self.sweep_dims else ""
        head = f"Results({str(self.path)!r}, datasets={self.datasets}"
        return f"{head}, spec_hash={self.attrs['spec_hash'][:12]}{sweep})"


def open_store(path: str | Path) -> Results:
    return Results(path)
