"""Metrics: CSNR (empirical from streamed moments with SVD or true bases, and the closed form),
curve-shape summaries, feature distances across sigma, denoising quality and the generalisation
score.

Numpy only at import time; torch and POT are imported by the functions that need them.
"""

from .csnr import ClassMoments, csnr_from_moments, csnr_theory, svd_bases
from .distances import cka_matrix, sliced_wasserstein
from .generalization import generalization_score, nn_ratio
from .posterior import posterior_quality
from .unimodal import Unimodality, unimodality

__all__ = [
    "ClassMoments",
    "csnr_from_moments",
    "csnr_theory",
    "svd_bases",
    "Unimodality",
    "unimodality",
    "cka_matrix",
    "sliced_wasserstein",
    "generalization_score",
    "nn_ratio",
    "posterior_quality",
]
