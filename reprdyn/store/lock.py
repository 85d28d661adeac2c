"""The run lock of a store: one run writes into a store at a time."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from ..errors import StoreError

LOCK = ".lock"


class StoreLocked(StoreError):
    """Another process is running into this store."""


class StoreLock:
    """An exclusive advisory lock on a store, held for a whole run.

    The OS drops it when the holding process dies, so a killed run never leaves
    a stale lock behind. The holder writes its process id into the lock file, so
    a run that waits (`wait`) can say whom it waits for (`on_wait`).
    """

    def __init__(
        self, path: str | Path, wait: bool = False, on_wait: Callable[[str], None] | None = None
    ):
        self.path, self.wait, self.on_wait, self.fh = Path(path), wait, on_wait, None
        self.new = False  # whether taking the lock made the store's folder

    def discard_if_new(self) -> None:
        """Remove the folder this lock made, if nothing but the lock is in it (a run refused before
        it wrote anything leaves no trace)."""
        if self.new and [c.name for c in self.path.iterdir()] == [LOCK]:
            (self.path / LOCK).unlink()
            self.path.rmdir()

    def __enter__(self) -> StoreLock:
        import fcntl

        if self.path.exists() and not self.path.is_dir():
            raise StoreError(
                f"{self.path}: this is a file, not a reprdyn store; choose another --store path"
            )
        self.new = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.path / LOCK, "a+")
        except OSError as e:
            raise StoreError(
                f"{self.path}: cannot write the run lock ({e.strerror or e}); a run writes into "
                "its store, so it needs a folder it can write (read a read-only store with query, "
                "ls, plot or report)"
            ) from None
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not self.wait:
                self.fh.close()
                raise StoreLocked(
                    f"{self.path}: another reprdyn run ({self._holder()}) is writing to this "
                    "store; wait for it, or pass --wait to queue behind it"
                ) from None
            if self.on_wait:
                self.on_wait(f"waiting for {self._holder()} to finish writing {self.path}")
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"{os.getpid()} {socket.gethostname()}\n")
        self.fh.flush()
        return self

    def _holder(self) -> str:
        try:
            pid, host = (self.path / LOCK).read_text().split()[:2]
            return f"process {pid} on {host}"
        except (OSError, ValueError):
            return "another process"

    def __exit__(self, *exc) -> None:
        import fcntl

        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()
