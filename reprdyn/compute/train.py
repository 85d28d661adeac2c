"""Training: Adam on a parameterisation's loss, with optional EMA, cached by content key.

A checkpoint's key hashes the model block, the noise levels it is trained at, a fingerprint of the
training data, the seed and a digest of the model code (`code_version`); a cached key is loaded
(weights_only=True), never retrained. A training in progress writes a resumable state beside its
checkpoint every `train.checkpoint_every` steps and when asked to stop (SIGTERM); the next run
continues from it to the same checkpoint. One process trains a key at a time.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import inspect
import json
import logging
import os
import textwrap
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import stop
from ..models.build import build_denoiser, make_loss

log = logging.getLogger("reprdyn")

ProgressFn = Callable[[int, int, float], None]  # (step, total, loss)


def cache_dir(configured: str | None) -> Path:
    from ..spec.tree import cache_root

    return cache_root(configured) / "checkpoints"


CHECKPOINT_FORMAT = 2  # bumped by hand when what a checkpoint file holds changes


def _stripped(node: ast.AST) -> ast.AST:
    """The tree without docstrings: they document the code, they do not change what it computes."""
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        if (
            isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            n.body = body[1:] or [ast.Pass()]
    return node


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the code that defines a trained model: the raw networks, the preconditioning
    wrappers and losses, the schedules, how a model block is built and the training loop.

    It hashes their syntax trees without docstrings, so comments and formatting do
    not count but any change to what the code computes does; it is part of every
    checkpoint key, so a checkpoint made by other model code is never loaded.
    """
    from ..maths import schedules
    from ..models import build, networks, precond

    parts = [inspect.getsource(m) for m in (networks, precond, schedules)]
    parts += [inspect.getsource(f) for f in (build.build_denoiser, build.make_loss, fit)]
    trees = [ast.dump(_stripped(ast.parse(textwrap.dedent(p)))) for p in parts]
    return hashlib.sha256(json.dumps([CHECKPOINT_FORMAT, trees]).encode()).hexdigest()[:16]


def checkpoint_key(
    model_cfg, train_sigmas: list[float] | None, data_fingerprint: str, seed: int
) -> str:
    """The cache key of one checkpoint. The model block counts without `train.replicates`: a
    replicate is its own seed, so replicate 0 of three is the model of a one-replicate spec."""
    block = model_cfg.model_dump(mode="json", exclude={"train": {"replicates"}})
    blob = json.dumps([block, train_sigmas, data_fingerprint, seed, code_version()], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def replicate_seed(seed: int, replicate: int) -> int:
    """The training seed of a replicate: the model's seed for replicate 0, then one derived from
    it and the replicate index."""
    from ..seeds import derive_seed

    return seed if replicate == 0 else derive_seed(seed, "replicate", replicate)


def train_replicate(
    model_cfg, data, train_sigmas, replicate: int, seed: int, cache, device, report
):
    """`ensure_trained` for one replicate of a model: the trainer a model source is handed."""
    seed = replicate_seed(seed, replicate)
    return ensure_trained(model_cfg, data, train_sigmas, seed, cache, device, report)


AUTO_EVERY_S = 300.0  # `checkpoint_every: auto`: a resumable state every five minutes of training


@dataclass
class TrainState:
    """Everything a training needs to continue exactly where it stopped: written every
    `train.checkpoint_every` steps (and at a SIGTERM) beside the checkpoint, read back by the next
    run, so a resumed training ends bit-identical to an uninterrupted one on the same machine."""

    step: int = 0  # steps done
    order: torch.Tensor | None = None  # this epoch's permutation of the samples
    losses: list[float] = field(default_factory=list)  # per finished epoch
    running: list[float] = field(default_factory=list)  # this epoch's losses so far


def fit(
    D: torch.nn.Module,
    loss_fn,
    x: np.ndarray,
    train_cfg,
    seed: int,
    device: str,
    progress: ProgressFn | None = None,
    state_path: Path | None = None,
) -> tuple[dict, list[float]]:
    """Train D on samples x; return (state dict for features, per-epoch mean losses).

    With `state_path`, a resumable state is written there every `train.checkpoint_every` steps
    and at a stop request, and training continues from one found there. Every random draw comes
    from generators seeded here (batch order and noise from `seed`, dropout from one derived from
    it), so the result depends on nothing else.
    """
    from ..seeds import derive_seed

    gen = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(x, dtype=torch.float32)
    n, bs = len(data), min(train_cfg.batch_size, len(data))
    per_epoch = max(n // bs, 1)
    total = train_cfg.steps or train_cfg.epochs * per_epoch
    opt = torch.optim.Adam(D.parameters(), lr=train_cfg.lr)
    ema = copy.deepcopy(D).eval().requires_grad_(False) if train_cfg.ema else None
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # dropout's draws, without touching global state
        torch.manual_seed(derive_seed(seed, "dropout"))
        st = _resume(state_path, D, ema, opt, gen, total) if state_path else TrainState()
        D.train()
        saver = _Saver(state_path, train_cfg.checkpoint_every)
        for step in range(st.step, total):
            b = step % per_epoch  # the batch within its epoch
            if b == 0:  # a new epoch: a new order
                st.order = torch.randperm(n, generator=gen)
            x0 = data[st.order[b * bs : (b + 1) * bs]].to(device)  # (B, *shape)
            loss = loss_fn(D, x0, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for pe, p in zip(ema.parameters(), D.parameters()):
                        pe.lerp_(p, 1 - train_cfg.ema)
            st.running.append(loss.item())
            if b == per_epoch - 1 or step == total - 1:  # the epoch (or training) ends
                st.losses.append(float(np.mean(st.running)))
                st.running = []
            st.step = step + 1
            if stop.REQUESTED.is_set() or saver.due(st.step):
                if st.step < total:
                    saver.save(st, D, ema, opt, gen)
                stop.check()  # a SIGTERM stops training here, its state written
            if progress:
                progress(st.step, total, loss.item())
    final = ema if ema is not None else D
    return {k: v.detach().cpu() for k, v in final.state_dict().items()}, st.losses


class _Saver:
    """When and where resumable states are written."""

    def __init__(self, path: Path | None, every: int | str):
        self.path, self.every = path, every
        self.last = time.monotonic()

    def due(self, step: int) -> bool:
        if self.path is None:
            return False
        if self.every == "auto":
            return time.monotonic() - self.last >= AUTO_EVERY_S
        return step % int(self.every) == 0

    def save(self, st: TrainState, D, ema, opt, gen) -> None:
        if self.path is None:
            return
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
        content = {
            "step": st.step,
            "order": st.order,
            "losses": st.losses,
            "running": st.running,
            "model": D.state_dict(),
            "ema": ema.state_dict() if ema is not None else None,
            "opt": opt.state_dict(),
            "gen": gen.get_state(),
            "rng": torch.get_rng_state(),
            "cuda_rng": cuda,
        }
        save_checkpoint(self.path, content)
        self.last = time.monotonic()
        log.info("training state at step %d written to %s", st.step, self.path)


def _resume(path: Path, D, ema, opt, gen, total: int) -> TrainState:
    """The state a stopped training left at `path` (models, optimizer and generators restored in
    place), or a fresh one; a state that cannot be read is reported and ignored."""
    if not path.exists():
        return TrainState()
    try:
        saved = load_checkpoint(path)
        D.load_state_dict(saved["model"])
        if ema is not None:
            ema.load_state_dict(saved["ema"])
        opt.load_state_dict(saved["opt"])
        gen.set_state(saved["gen"])
        torch.set_rng_state(saved["rng"])
        if saved["cuda_rng"]:
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
    except Exception as e:  # noqa: BLE001 - a damaged state only costs the training done so far
        log.warning("cannot resume from %s (%s); training from the start", path, e)
        return TrainState()
    log.info("resuming training from step %d of %d (%s)", saved["step"], total, path)
    return TrainState(saved["step"], saved["order"], saved["losses"], saved["running"])


def ensure_trained(
    model_cfg,
    data,
    train_sigmas: list[float] | None,
    seed: int,
    cache: str | None,
    device: str,
    progress: ProgressFn | None = None,
) -> tuple[torch.nn.Module, Path, bool]:
    """The trained denoiser for `model_cfg` on `data` (train split), from the cache when possible.

    One process trains a key at a time (a file lock per checkpoint): another run, or worker, that
    needs the same checkpoint waits for it, then loads it. Returns (denoiser in eval mode,
    checkpoint path, whether it was trained now).
    """
    key = checkpoint_key(model_cfg, train_sigmas, data.fingerprint(), seed)
    path = cache_dir(cache) / f"{key}.pt"
    shape = tuple(data.x.shape[1:])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the network's initialisation, without touching global state
        D = build_denoiser(model_cfg, shape)
    with _training_lock(path):
        if _cached(path):
            D.load_state_dict(load_checkpoint(path)["state"])
            return D.to(device).eval(), path, False
        D.to(device)
        state_path = path.with_name(f"{key}.state.pt")
        loss = make_loss(model_cfg, train_sigmas)
        state, losses = fit(D, loss, data.x, model_cfg.train, seed, device, progress, state_path)
        save_checkpoint(path, {"state": state, "losses": losses, "key": key})
        for done in (state_path, state_path.with_name(state_path.name + ".sha256")):
            done.unlink(missing_ok=True)
        D.load_state_dict(state)
    return D.to(device).eval(), path, True


def _cached(path: Path) -> bool:
    """Whether a usable checkpoint is at `path`: one without its content hash (an older reprdyn,
    or a hash deleted) is never trusted, and is trained again."""
    if path.exists() and not path.with_name(path.name + ".sha256").exists():
        log.warning("checkpoint %s has no content hash beside it; training it again", path)
        return False
    return path.exists()


@contextmanager
def _training_lock(path: Path):
    """Hold the lock of one checkpoint key; say so when another process holds it."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path.with_suffix(".lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another process is training checkpoint %s; waiting for it", path.name)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path: Path, content: dict) -> None:
    """Write a checkpoint and, beside it, the sha256 of its bytes; each appears atomically, the
    hash first, so a checkpoint is never seen without the hash it must match."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(content, tmp)
    digest = path.with_name(path.name + ".sha256")
    tmp_digest = digest.with_suffix(f".tmp{os.getpid()}")
    tmp_digest.write_text(_digest(tmp) + "\n")
    os.replace(tmp_digest, digest)
    os.replace(tmp, path)  # atomic: a half-written checkpoint is never seen


def load_checkpoint(path: Path) -> dict:
    """A cached checkpoint, once its bytes match the hash written beside it (weights_only: a
    checkpoint never runs code); a file changed after it was written is an error naming it."""
    from ..errors import InputError

    digest = path.with_name(path.name + ".sha256")
    if digest.read_text().strip() != _digest(path):
        raise InputError(
            f"checkpoint {path} does not match the content hash written beside it ({digest}): it "
            "was changed or damaged after training; delete both files to train it again"
        )
    return torch.load(path, map_location="cpu", weights_only=True)
