"""Store stage: a zarr v3 store of labelled cubes, with its provenance, lock and ledger.

- `layout`: the groups, root attributes, allocation and region writes, and the store's own checks;
- `provenance`: what the numbers came from (spec, versions, hardware), and spec differences;
- `lock`: one run at a time;
- `ledger`: the plan, the manifest of finished tasks, the failures;
- `io`: the reads and writes a task makes (`StoreIO`);
- `results`: reading a store back as xarray (`reprdyn.open`).
"""

from ..errors import StoreError
from .io import StoreIO
from .layout import (
    RowWriter,
    allocate,
    check_destination,
    check_layout,
    consolidate,
    create,
    damaged,
    group,
    point_label,
    read_attrs,
    require_attrs,
    sweep_points,
    update_attrs,
    write_region,
)
from .ledger import (
    FAILURES,
    MANIFEST,
    PLAN,
    Ledger,
    done_keys,
    manifest,
    mark_done,
    pending,
    record_failures,
    task_status,
    write_manifest,
    write_plan,
)
from .lock import LOCK, LOCK_FILES, StoreLock, StoreLocked
from .provenance import FORMAT, FORMAT_VERSION, diff_fields, hardware, provenance
from .results import Results, load_group, open_group, open_store

__all__ = [
    "StoreError",
    "StoreIO",
    "RowWriter",
    "allocate",
    "Results",
    "open_store",
    "open_group",
    "load_group",
    "group",
    "read_attrs",
    "require_attrs",
    "check_destination",
    "check_layout",
    "create",
    "update_attrs",
    "consolidate",
    "damaged",
    "write_region",
    "sweep_points",
    "point_label",
    "StoreLock",
    "StoreLocked",
    "LOCK",
    "LOCK_FILES",
    "MANIFEST",
    "FAILURES",
    "Ledger",
    "pending",
    "PLAN",
    "done_keys",
    "manifest",
    "mark_done",
    "record_failures",
    "task_status",
    "write_manifest",
    "write_plan",
    "FORMAT",
    "FORMAT_VERSION",
    "diff_fields",
    "hardware",
    "provenance",
]
