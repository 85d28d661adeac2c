"""A request to stop a run at the next safe point: set by SIGTERM, read between tasks and training
steps.

Stopping between tasks, never inside one, means no store write is ever cut in half: the tasks that
finished are in the manifest, and the next run resumes from them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

REQUESTED = threading.Event()
GRACE_S = float(os.environ.get("REPRDYN_STOP_GRACE", "20"))  # seconds to reach a safe point


def request(exit_now: Callable[[], None], grace: float | None = None) -> None:
    """Ask for a stop; the second request, or `grace` seconds without reaching a safe point, calls
    `exit_now` (which ends the process)."""
    if REQUESTED.is_set():
        exit_now()
        return
    REQUESTED.set()
    timer = threading.Timer(GRACE_S if grace is None else grace, exit_now)
    timer.daemon = True  # a run that stops in time exits without waiting for it
    timer.start()


class Stopped(KeyboardInterrupt):
    """A run stopped on request (SIGTERM); like Ctrl-C, no task catches it."""


def check() -> None:
    """Raise `Stopped` if a stop was requested."""
    if REQUESTED.is_set():
        raise Stopped()
