"""Training: Adam on a parameterisation's loss, with optional EMA, cached by content key.

A checkpoint's key hashes the model block, the noise levels it is trained at, a fingerprint of the
training data, the seed and a digest of the model code (`code_version`); a cached key is loaded
(weights_only=True), never retrained.
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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from . import stop
from .models.build import build_denoiser, make_loss

log = logging.getLogger("reprdyn")

ProgressFn = Callable[[int, int, float], None]  # (step, total, loss)


def cache_dir(configured: str | None) -> Path:
    path = configured or os.environ.get("REPRDYN_CACHE") or Path.home() / ".cache" / "reprdyn"
    return Path(path).expanduser() / "checkpoints"


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
    from . import schedules
    from .models import build, networks, precond

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
    from .seeds import derive_seed

    return seed if replicate == 0 else derive_seed(seed, "replicate", replicate)


def fit(
    D: torch.nn.Module,
    loss_fn,
    x: np.ndarray,
    train_cfg,
    seed: int,
    device: str,
    progress: ProgressFn | None = None,
) -> tuple[dict, list[float]]:
    """Train D on samples x; return (state dict for features, per-epoch mean losses)."""
    gen = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(x, dtype=torch.float32)
    n, bs = len(data), min(train_cfg.batch_size, len(data))
    per_epoch = max(n // bs, 1)
    total = train_cfg.steps or train_cfg.epochs * per_epoch
    opt = torch.optim.Adam(D.parameters(), lr=train_cfg.lr)
    ema = copy.deepcopy(D).eval().requires_grad_(False) if train_cfg.ema else None
    D.train()
    losses, running, step = [], [], 0
    while step < total:
        order = torch.randperm(n, generator=gen)
        for b in range(per_epoch):
            if step >= total:
                break
            x0 = data[order[b * bs : (b + 1) * bs]].to(device)  # (B, *shape)
            loss = loss_fn(D, x0, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for pe, p in zip(ema.parameters(), D.parameters()):
                        pe.lerp_(p, 1 - train_cfg.ema)
            running.append(loss.item())
            step += 1
            stop.check()  # a SIGTERM stops training between steps; no checkpoint is written
            if progress:
                progress(step, total, running[-1])
        losses.append(float(np.mean(running)))
        running = []
    final = ema if ema is not None else D
    return {k: v.detach().cpu() for k, v in final.state_dict().items()}, losses


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

    Returns (denoiser in eval mode, checkpoint path, whether it was trained now).
    """
    key = checkpoint_key(model_cfg, train_sigmas, data.fingerprint(), seed)
    path = cache_dir(cache) / f"{key}.pt"
    shape = tuple(data.x.shape[1:])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the network's initialisation, without touching global state
        D = build_denoiser(model_cfg, shape)
    trained = False
    if path.exists() and not path.with_name(path.name + ".sha256").exists():
        # a checkpoint without its hash (an older reprdyn, or a hash deleted) is never trusted:
        # it is trained again, and overwritten
        log.warning("checkpoint %s has no content hash beside it; training it again", path)
    if path.exists() and path.with_name(path.name + ".sha256").exists():
        D.load_state_dict(load_checkpoint(path)["state"])
    else:
        D.to(device)
        state, losses = fit(
            D, make_loss(model_cfg, train_sigmas), data.x, model_cfg.train, seed, device, progress
        )
        save_checkpoint(path, {"state": state, "losses": losses, "key": key})
        D.load_state_dict(state)
        trained = True
    return D.to(device).eval(), path, trained


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
    from .errors import InputError

    digest = path.with_name(path.name + ".sha256")
    if digest.read_text().strip() != _digest(path):
        raise InputError(
            f"checkpoint {path} does not match the content hash written beside it ({digest}): it "
            "was changed or damaged after training; delete both files to train it again"
        )
    return torch.load(path, map_location="cpu", weights_only=True)
