"""Training: the loss goes down, checkpoints are cached by content key and never retrained."""

from __future__ import annotations

import numpy as np
import torch

from reprdyn.caches import DataCache
from reprdyn.spec import validate_text
from reprdyn.train import ensure_trained

SPEC = """spec_version: 1
name: tr
model:
  kind: diffusion
  network: {kind: mlp, width: 64}
  precond: {kind: vp}
  train: {data: m, epochs: 25, batch_size: 64, lr: 0.003}
datasets: [{kind: molrg, name: m, n: 12, K: 3, d: 2, delta: 0.3, n_train: 512, n_test: 64}]
sigma: [0.1, 1.0]
layers: [fc2]
"""


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

    from reprdyn import train
    from reprdyn.models import networks
    from reprdyn.train import checkpoint_key, code_version

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
