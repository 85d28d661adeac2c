"""The store lock: a second run is refused, before data and models load, or waits."""

from __future__ import annotations

import pytest

import reprdyn
from reprdyn import store as st


def test_second_run_is_refused_while_locked(small_spec, small_store):
    import pytest

    with st.StoreLock(small_store):
        with pytest.raises(
            st.StoreLocked,
            match=r"another reprdyn run \(process \d+ on .*\) is writing to this store",
        ):
            reprdyn.run(small_spec, store=small_store)


def test_a_busy_store_is_refused_before_data_and_models_load(small_spec, small_store, monkeypatch):
    """The lock (and the spec's identity) come before the preflight, which can take minutes with a
    large pretrained model."""
    import reprdyn.runner as runner

    loaded = []
    monkeypatch.setattr(runner, "preflight", lambda ctx, log=None: loaded.append(1))
    with st.StoreLock(small_store), pytest.raises(st.StoreLocked):
        reprdyn.run(small_spec, store=small_store)
    assert loaded == []


def test_wait_queues_behind_the_lock(small_spec, small_store):
    import os
    import socket
    import threading
    import time

    lock = st.StoreLock(small_store).__enter__()
    threading.Timer(0.5, lock.__exit__, (None, None, None)).start()
    t, heard = time.time(), []
    reprdyn.run(small_spec, store=small_store, wait=True, on_wait=heard.append)
    assert time.time() - t >= 0.4
    assert heard == [
        f"waiting for process {os.getpid()} on {socket.gethostname()} to finish writing "
        f"{small_store}"
    ]  # said before waiting, naming the holder
