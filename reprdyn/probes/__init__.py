"""Probes: batched estimators over a stack of feature sets, label noise, selection and ensembles.

The kinds (`ridge`, `logistic`, `bn-linear`, `mlp`, `seg-linear`, `seg-mlp`) are declared one
module each in `reprdyn.probes.kinds`, and a spec's probe block builds its own estimator
(`make_probe`). The estimators: `ridge` (closed form, lambda by exact LOO or GCV), `logistic`
(full-batch L-BFGS), `neural` (BatchNorm1d + Linear and Linear-ReLU-Linear, Adam) and
`segmentation` (per-pixel ridge from streamed normal equations).

The public names load on first use (PEP 562): the kinds' registry stays light, without torch.
"""

from importlib import import_module

_API = {
    "RidgeProbe": ".ridge",
    "LogisticProbe": ".logistic",
    "BNLinearProbe": ".neural",
    "MLPProbe": ".neural",
    "corrupt_labels": ".labels",
}
__all__ = ["make_probe", *_API]


def make_probe(cfg, n_classes: int, device: str = "cpu", seed: int = 0):
    """A fresh estimator for a spec's probe block (its kind's `estimator`)."""
    return cfg.estimator(n_classes, device, seed)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'reprdyn.probes' has no attribute {name!r}")
    return getattr(import_module(_API[name], __name__), name)
