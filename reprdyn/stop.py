"""A request to stop a run at the next safe point: set by SIGTERM, read between tasks and training
steps.

Stopping between tasks, never inside one, means no store write is ever cut in half: the tasks that
finished are in the manifest, and the next run resumes from them.
"""

from __future__ import annotations

import threading

REQUESTED = threading.Event()


class Stopped(KeyboardInterrupt):
    """A run stopped on request (SIGTERM); like Ctrl-C, no task catches it."""


def check() -> None:
    """Raise `Stopped` if a stop was requested."""
    if REQUESTED.is_set():
        raise Stopped()
