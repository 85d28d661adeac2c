"""The store lock: a second run is refused, before data and models load, or waits."""

from __future__ import annotations

import pytest

import reprdyn
from reprdyn import store as st
from reprdyn.runner import Hooks, RunOptions


def test_second_run_is_refused_while_locked(small_spec, small_store_copy):
    with st.StoreLock(small_store_copy):
        with pytest.raises(
            st.StoreLocked,
            match=r"another reprdyn run \(process \d+ on .*\) is writing to this store",
        ):
            reprdyn.run(small_spec, store=small_store_copy)


def test_a_busy_store_is_refused_before_data_and_models_load(
    small_spec, small_store_copy, monkeypatch
):
    """The lock (and the spec's identity) come before the preflight, which can take minutes with a
    large pretrained model."""
    import reprdyn.runner.session as runner

    loaded = []
    monkeypatch.setattr(runner, "preflight", lambda ctx, log=None: loaded.append(1))
    with st.StoreLock(small_store_copy), pytest.raises(st.StoreLocked):
        reprdyn.run(small_spec, store=small_store_copy)
    assert loaded == []


def test_wait_queues_behind_the_lock(small_spec, small_store_copy):
    import os
    import socket
    import threading
    import time

    held, release = threading.Event(), threading.Event()

    def hold():  # another thread holds the lock for half a second
        with st.StoreLock(small_store_copy):
            held.set()
            release.wait(0.5)

    threading.Thread(target=hold).start()
    held.wait()
    t, heard = time.time(), []
    reprdyn.run(
        small_spec,
        store=small_store_copy,
        options=RunOptions(wait=True, hooks=Hooks(wait=heard.append)),
    )
    assert time.time() - t >= 0.4
    assert heard == [
        f"waiting for process {os.getpid()} on {socket.gethostname()} to finish writing "
        f"{small_store_copy}"
    ]  # said before waiting, naming the holder


def test_another_process_holding_the_lock_is_named(small_store_copy):
    """A lock held by another process: the refusal names its pid and host."""
    import subprocess
    import sys
    import time

    code = (
        "import sys, time\nfrom reprdyn.store import StoreLock\n"
        f"with StoreLock({str(small_store_copy)!r}):\n    print('held', flush=True)\n"
        "    time.sleep(30)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(st.StoreLocked, match=rf"\(process {proc.pid} on "):
            st.StoreLock(small_store_copy).__enter__()
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.1)
    with st.StoreLock(small_store_copy):  # a killed holder leaves no lock behind
        pass


def test_a_filesystem_without_locks_is_a_clear_error(tmp_path, monkeypatch):
    """Where the lock cannot be taken at all, the run stops with an error that says why and what
    would work, instead of an OSError."""
    import errno

    import filelock

    def no_locks(self, *a, **kw):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(filelock.FileLock, "acquire", no_locks)
    with pytest.raises(st.StoreError, match="the filesystem gives this store no lock .*-o flock"):
        st.StoreLock(tmp_path / "s.zarr").__enter__()
