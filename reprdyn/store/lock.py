"""The run lock of a store: one run writes into a store at a time.

The lock is `filelock`'s: an OS lock (flock) where the filesystem has one, which the OS drops when
the holding process dies, so a killed run leaves no stale lock; filelock falls back to an
exclusive lock file on filesystems without flock (some Lustre and GPFS mounts). The holder writes
its process id and host beside the lock, so a refused or waiting run says whom it waits for.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from ..errors import StoreError

LOCK = ".lock"
OWNER = ".lock.owner"  # "pid host" of the run holding the lock
LOCK_FILES = (LOCK, OWNER)  # what a lock leaves in a store's folder


class StoreLocked(StoreError):
    """Another process is running into this store."""


class StoreLock:
    """An exclusive lock on a store, held for a whole run. `wait` queues behind the holder
    (`on_wait` hears whom it waits for) instead of refusing."""

    def __init__(
        self, path: str | Path, wait: bool = False, on_wait: Callable[[str], None] | None = None
    ):
        self.path, self.wait, self.on_wait, self.lock = Path(path), wait, on_wait, None
        self.new = False  # whether taking the lock made the store's folder

    def discard_if_new(self) -> None:
        """Remove the folder this lock made, if nothing but the lock is in it (a run refused before
        it wrote anything leaves no trace)."""
        if self.new and {c.name for c in self.path.iterdir()} <= set(LOCK_FILES):
            self.__exit__()
            for name in LOCK_FILES:
                (self.path / name).unlink(missing_ok=True)
            self.path.rmdir()

    def __enter__(self) -> StoreLock:
        from filelock import FileLock, Timeout

        self._make_folder()
        self.lock = FileLock(str(self.path / LOCK))
        busy = StoreLocked(
            f"{self.path}: another reprdyn run ({self._holder()}) is writing to this store; wait "
            "for it, or pass --wait to queue behind it"
        )
        try:
            try:
                self.lock.acquire(timeout=0)
            except RuntimeError:  # filelock 4: this very thread holds it (no wait can end)
                raise busy from None
            except Timeout:
                if not self.wait:
                    raise busy from None
                if self.on_wait:
                    self.on_wait(f"waiting for {self._holder()} to finish writing {self.path}")
                self.lock.acquire()
        except (OSError, NotImplementedError) as e:
            raise StoreError(
                f"{self.path}: the filesystem gives this store no lock ({e}); reprdyn does not "
                "write a store another run could write at the same time: put it on a filesystem "
                "with file locks (a local disk, NFS with lockd, Lustre mounted with -o flock)"
            ) from None
        (self.path / OWNER).write_text(f"{os.getpid()} {socket.gethostname()}\n")
        return self

    def _make_folder(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(
                f"{self.path}: this is a file, not a reprdyn store; choose another --store path"
            )
        self.new = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / LOCK).touch()
        except OSError as e:
            raise StoreError(
                f"{self.path}: cannot write the run lock ({e.strerror or e}); a run writes into "
                "its store, so it needs a folder it can write (read a read-only store with query, "
                "ls, plot or report)"
            ) from None

    def _holder(self) -> str:
        try:
            pid, host = (self.path / OWNER).read_text().split()[:2]
        except (OSError, ValueError):
            return "another process"
        if host == socket.gethostname() and not _alive(int(pid)):
            return (
                f"process {pid} on this host, which is no longer running: if no run uses this "
                f"store, the lock outlived it (a filesystem without flock); delete "
                f"{self.path / LOCK}"
            )
        return f"process {pid} on {host}"

    def __exit__(self, *exc) -> None:
        if self.lock is not None and self.lock.is_locked:
            (self.path / OWNER).unlink(missing_ok=True)
            self.lock.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
