"""Probes: batched estimators over a stack of feature sets, label noise, selection and ensembles.

Kinds, chosen by name from PROBES: `ridge` (closed form, lambda by exact LOO or
GCV), `logistic` (full-batch L-BFGS), `bn-linear` (BatchNorm1d + Linear, Adam)
and `mlp` (Linear-ReLU-Linear, the posterior probe).
"""

from __future__ import annotations

from .ensemble import accuracy, ensemble_members, select, soft_vote
from .labels import corrupt_labels
from .logistic import LogisticProbe
from .neural import BNLinearProbe, MLPProbe
from .ridge import RidgeProbe

PROBES = {
    "ridge": RidgeProbe,
    "logistic": LogisticProbe,
    "bn-linear": BNLinearProbe,
    "mlp": MLPProbe,
}


def make_probe(cfg, n_classes: int, device: str = "cpu", seed: int = 0):
    """A fresh probe for a spec probe entry, chosen from the PROBES table."""
    try:
        cls = PROBES[cfg.kind]
    except KeyError:
        raise ValueError(
            f"unknown probe kind {cfg.kind!r}; expected one of {sorted(PROBES)}"
        ) from None
    params = cfg.model_dump(exclude={"kind", "name", "layers"})
    if cls in (BNLinearProbe, MLPProbe):
        params["seed"] = seed
    return cls(n_classes, **params, device=device)


__all__ = [
    "PROBES",
    "make_probe",
    "RidgeProbe",
    "LogisticProbe",
    "BNLinearProbe",
    "MLPProbe",
    "corrupt_labels",
    "select",
    "soft_vote",
    "accuracy",
    "ensemble_members",
]
