"""Probes (scikit-learn estimator contract), label-noise corruption and soft-voting ensembles.

A probe's constructor only stores parameters, `fit` returns self and learned
state ends in `_`. Probes standardise with training statistics only.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression


def corrupt_labels(y: np.ndarray, p: float, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Move exactly round(p * n) labels, chosen at random, to a uniformly random *other* class."""
    y = np.asarray(y)
    m = int(round(p * len(y)))
    out = y.copy()
    if m == 0:
        return out
    idx = rng.choice(len(y), size=m, replace=False)
    shift = rng.integers(1, n_classes, size=m)  # 1..K-1, so the class always changes
    out[idx] = (y[idx] + shift) % n_classes
    return out


class Standardize:
    """x -> (x - mean_) / scale_ with training statistics; constant features keep scale 1."""

    def fit(self, X: np.ndarray) -> "Standardize":
        self.mean_ = X.mean(0)
        sd = X.std(0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.scale_


class Identity:
    def transform(self, X: np.ndarray) -> np.ndarray:
        return X


class LogisticProbe:
    """Multinomial L2 logistic regression (scikit-learn) on standardised, optionally |.|, features."""

    def __init__(self, C: float = 1.0, max_iter: int = 1000, transform: str = "none", standardize: bool = True,
                 n_classes: int | None = None):
        self.C = C
        self.max_iter = max_iter
        self.transform = transform
        self.standardize = standardize
        self.n_classes = n_classes

    def _prep(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)  # (N, D)
        return np.abs(X) if self.transform == "abs" else X

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LogisticProbe":
        X = self._prep(X)
        self.scaler_ = Standardize().fit(X) if self.standardize else Identity()
        self.classes_ = np.arange(self.n_classes) if self.n_classes else np.unique(y)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(self.scaler_.transform(X), y)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Logits (N, n_classes); a class absent from training gets -inf."""
        z = self.model_.decision_function(self.scaler_.transform(self._prep(X)))
        seen = self.model_.classes_
        if z.ndim == 1:  # binary case: sklearn returns one column
            z = np.stack([-z / 2, z / 2], axis=1)
        out = np.full((len(z), len(self.classes_)), -np.inf)
        out[:, np.searchsorted(self.classes_, seen)] = z
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(1)]


PROBES = {"logistic": LogisticProbe}


def make_probe(cfg, n_classes: int):
    """A fresh probe for a spec probe entry, chosen from the PROBES table."""
    try:
        cls = PROBES[cfg.kind]
    except KeyError:
        raise ValueError(f"unknown probe kind {cfg.kind!r}; expected one of {sorted(PROBES)}") from None
    params = cfg.model_dump(exclude={"kind", "name", "layers"})
    return cls(**params, n_classes=n_classes)


def accuracy(pred: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[float, np.ndarray]:
    """Overall accuracy and per-class accuracy (NaN for a class with no samples)."""
    hit = pred == y
    per = np.array([hit[y == k].mean() if (y == k).any() else np.nan for k in range(n_classes)])
    return float(hit.mean()), per


def ensemble_members(best: int, k: int, n: int) -> np.ndarray:
    """Grid indices best-k .. best+k, clipped at the ends of the grid (THEORY.md §6)."""
    return np.arange(max(0, best - k), min(n, best + k + 1))


def soft_vote(logits: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Average the members' logits (S, N, K) -> (N, K): soft voting."""
    return logits[members].mean(0)
