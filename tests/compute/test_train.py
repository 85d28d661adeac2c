"""Training: the loss goes down, checkpoints are cached by content key and never retrained."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import trained_spec

from reprdyn.compute.train import ensure_trained
from reprdyn.runner.context import DataCache
from reprdyn.spec import validate_text

SPEC = trained_spec(
    "tr",
    width=64,
    train="epochs: 25, batch_size: 64, lr: 0.003",
    n_train=512,
    n_test=64,
    grid="sigma: [0.1, 1.0]",
    rest="layers: [fc2]\n",
)


def test_training_lowers_loss_and_cache_is_reused(tmp_path):
    spec = validate_text(SPEC)
    data = DataCache(spec).train_split(spec.model)
    net, path, trained = ensure_trained(spec.model, data, None, 0, str(tmp_path), "cpu")
    assert trained and path.exists()
    losses = torch.load(path, weights_only=True)["losses"]
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:2])
    calls = []
    net2, path2, trained2 = ensure_trained(
        spec.model, data, None, 0, str(tmp_path), "cpu", lambda *a: calls.append(a)
    )
    assert not trained2 and path2 == path and calls == []  # loaded, not retrained
    for a, b in zip(net.state_dict().values(), net2.state_dict().values()):
        torch.testing.assert_close(a, b)
    torch.load(path, weights_only=True)  # a plain tensor checkpoint


def test_cache_key_covers_config_data_and_seed(tmp_path):
    spec = validate_text(SPEC)
    data = DataCache(spec).train_split(spec.model)
    _, p0, _ = ensure_trained(spec.model, data, [0.5], 0, str(tmp_path), "cpu")
    _, p1, _ = ensure_trained(spec.model, data, [0.6], 0, str(tmp_path), "cpu")
    _, p2, _ = ensure_trained(spec.model, data, [0.5], 1, str(tmp_path), "cpu")
    other = validate_text(SPEC.replace("n_train: 512", "n_train: 500"))
    _, p3, _ = ensure_trained(
        other.model, DataCache(other).train_split(other.model), [0.5], 0, str(tmp_path), "cpu"
    )
    assert len({p0, p1, p2, p3}) == 4


def test_training_is_deterministic(tmp_path):
    spec = validate_text(SPEC.replace("epochs: 25", "epochs: 2"))
    data = DataCache(spec).train_split(spec.model)
    a, _, _ = ensure_trained(spec.model, data, None, 0, str(tmp_path / "a"), "cpu")
    b, _, _ = ensure_trained(spec.model, data, None, 0, str(tmp_path / "b"), "cpu")
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_checkpoint_key_covers_the_model_code(tmp_path, monkeypatch):
    """Editing what the network computes changes every checkpoint key (an old checkpoint is never
    loaded into new code); comments, docstrings and formatting do not."""
    import inspect

    from reprdyn.compute import train
    from reprdyn.compute.train import checkpoint_key, code_version
    from reprdyn.models import networks

    spec = validate_text(SPEC)
    key = checkpoint_key(spec.model, None, "data", 0)
    real = inspect.getsource

    def edited(change):
        def source(obj):
            return change(real(obj)) if obj is networks else real(obj)

        return source

    def key_with(change):
        monkeypatch.setattr(train.inspect, "getsource", edited(change))
        code_version.cache_clear()
        try:
            return checkpoint_key(spec.model, None, "data", 0)
        finally:
            monkeypatch.setattr(train.inspect, "getsource", real)
            code_version.cache_clear()

    code = "return (h + self.skip(x)) / math.sqrt(2)"
    assert code in real(networks)
    assert key_with(lambda s: s.replace(code, "return h + self.skip(x)")) != key
    assert (
        key_with(lambda s: s.replace(code, "return (h+self.skip(x))/math.sqrt(2)  # same")) == key
    )
    assert (
        key_with(lambda s: s.replace('"""Single-head self-attention', '"""One-head self-attention'))
        == key
    )
    assert checkpoint_key(spec.model, None, "data", 0) == key


def test_a_changed_checkpoint_is_refused_with_its_name(tmp_path):
    """Overwrite a cached checkpoint (a poisoned cache): it is not used, and the error names it."""
    import pytest

    from reprdyn.errors import InputError

    spec = validate_text(SPEC.replace("epochs: 25", "epochs: 1"))
    data = DataCache(spec).train_split(spec.model)
    net, path, _ = ensure_trained(spec.model, data, None, 0, str(tmp_path), "cpu")
    state = {k: torch.zeros_like(v) for k, v in net.state_dict().items()}
    torch.save({"state": state, "losses": [], "key": "x"}, path)  # someone else's weights
    with pytest.raises(InputError, match=f"checkpoint {path} does not match the content hash"):
        ensure_trained(spec.model, data, None, 0, str(tmp_path), "cpu")
    path.with_name(path.name + ".sha256").unlink()  # no hash: never trusted, trained again
    again, _, trained = ensure_trained(spec.model, data, None, 0, str(tmp_path), "cpu")
    assert trained and all(
        torch.equal(a, b) for a, b in zip(again.state_dict().values(), net.state_dict().values())
    )


# a training of a few seconds with EMA and dropout (so every random state counts) and a resumable
# state every 40 steps
RESUMABLE = SPEC.replace(
    "network: {kind: mlp, width: 64}", "network: {kind: mlp, width: 64, dropout: 0.1}"
).replace(
    "train: {data: m, epochs: 25, batch_size: 64, lr: 0.003}",
    "train: {data: m, steps: STEPS, batch_size: 32, lr: 0.003, ema: 0.99, checkpoint_every: 40}",
)


def _weights(path) -> dict:
    return torch.load(path, weights_only=True)["state"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_every_is_not_part_of_any_hash():
    """How often a training writes its state changes nothing it computes: the spec hash and the
    checkpoint key ignore it."""
    from reprdyn.compute.train import checkpoint_key
    from reprdyn.spec import spec_hash

    a = validate_text(RESUMABLE.replace("STEPS", "100"))
    b = validate_text(RESUMABLE.replace("STEPS", "100").replace("checkpoint_every: 40", ""))
    assert spec_hash(a) == spec_hash(b)
    assert checkpoint_key(a.model, None, "d", 0) == checkpoint_key(b.model, None, "d", 0)


def test_a_stopped_or_crashed_training_resumes_to_the_same_weights(tmp_path):
    """In one process: a stop requested at step 70 writes the state at the next step; a crash at
    step 130 leaves the state of step 120 (checkpoint_every 40); each resumption ends
    bit-identical to the uninterrupted training, and the state is removed once the checkpoint is
    written."""
    from reprdyn import stop
    from reprdyn.compute.train import cache_dir

    spec = validate_text(RESUMABLE.replace("STEPS", "200"))
    data = DataCache(spec).train_split(spec.model)
    _, ref, _ = ensure_trained(spec.model, data, None, 0, str(tmp_path / "ref"), "cpu")

    class Crash(Exception):
        pass

    def interrupt(at: int, how: str):
        def progress(step, total, loss):
            if step == at and how == "stop":
                stop.REQUESTED.set()
            if step == at and how == "crash":
                raise Crash()

        return progress

    for how, at, saved in (("stop", 70, 71), ("crash", 130, 120)):
        cache = str(tmp_path / how)
        try:
            ensure_trained(spec.model, data, None, 0, cache, "cpu", interrupt(at, how))
        except (stop.Stopped, Crash):
            pass
        finally:
            stop.REQUESTED.clear()
        (state,) = cache_dir(cache).glob("*.state.pt")
        assert torch.load(state, weights_only=True)["step"] == saved
        steps = []
        _, path, trained = ensure_trained(
            spec.model, data, None, 0, cache, "cpu", lambda s, t, loss: steps.append(s)
        )
        assert trained and steps[0] == saved + 1  # continued, not restarted
        assert _same(_weights(path), _weights(ref))
        assert not list(cache_dir(cache).glob("*.state.pt*"))


LONG = RESUMABLE.replace("STEPS", "2500")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The checkpoint of LONG trained in one go."""
    spec = validate_text(LONG)
    data = DataCache(spec).train_split(spec.model)
    cache = str(tmp_path_factory.mktemp("ref"))
    return ensure_trained(spec.model, data, None, spec.seed, cache, "cpu")[1]


@pytest.mark.slow  # training in subprocesses
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_a_killed_training_process_resumes_to_a_bit_identical_checkpoint(
    tmp_path, sig, uninterrupted
):
    """`reprdyn train` killed mid-training (SIGKILL, or SIGTERM as a cluster's time limit sends):
    the next `reprdyn train` continues from the last state and writes the checkpoint an
    uninterrupted training writes."""
    import signal
    import subprocess
    import sys
    import time

    from reprdyn.compute.train import cache_dir

    text = LONG + "compute: {cache: cache}\n"  # beside the spec: tmp_path / "cache"
    (tmp_path / "t.yaml").write_text(text)
    cmd = [sys.executable, "-m", "reprdyn", "train", str(tmp_path / "t.yaml")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(cache_dir(str(tmp_path / "cache")).glob("*.state.pt")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)  # a few more states and steps
    proc.send_signal(getattr(signal, sig))
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == (143 if sig == "SIGTERM" else -signal.SIGKILL), stderr
    if sig == "SIGTERM":
        assert "a training in progress in its resumable state" in stderr
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0 and "trained" in again.stdout, again.stderr
    assert "resuming training from step" in again.stderr
    (path,) = cache_dir(str(tmp_path / "cache")).glob("*.pt")
    assert path.name == uninterrupted.name and _same(_weights(path), _weights(uninterrupted))


@pytest.mark.slow  # training in subprocesses
def test_two_processes_train_a_shared_checkpoint_once(tmp_path):
    """A second `reprdyn train` started while the first trains the same checkpoint waits for it,
    says so, and then loads what the first wrote: the key is trained once."""
    import subprocess
    import sys
    import time

    from reprdyn.compute.train import cache_dir

    text = RESUMABLE.replace("STEPS", "6000") + "compute: {cache: cache}\n"  # tmp_path / "cache"
    (tmp_path / "t.yaml").write_text(text)
    cmd = [sys.executable, "-m", "reprdyn", "train", str(tmp_path / "t.yaml")]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    first = subprocess.Popen(cmd, **pipes)
    deadline = time.monotonic() + 60
    while not list(cache_dir(str(tmp_path / "cache")).glob("*.state.pt")):  # it is training
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    second = subprocess.Popen(cmd, **pipes)
    (out1, err1), (out2, err2) = first.communicate(timeout=120), second.communicate(timeout=120)
    assert first.returncode == second.returncode == 0, (err1, err2)
    assert ": trained " in out1 and ": cached " in out2
    assert "another process is training checkpoint" in err2
    assert len(list(cache_dir(str(tmp_path / "cache")).glob("*.pt"))) == 1
