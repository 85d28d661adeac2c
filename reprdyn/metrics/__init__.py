"""Metrics: CSNR (empirical, from moments with SVD bases, closed form), curve-shape summaries,
feature distances across sigma, and the generalisation score of generated samples."""
from .csnr import ClassMoments, class_energy, csnr, csnr_from_moments, csnr_theory, svd_bases
from .distances import cka_matrix, linear_cka, sliced_wasserstein
from .generalization import generalization_score, nn_ratio
from .unimodal import Unimodality, unimodality

__all__ = ["ClassMoments", "class_energy", "csnr", "csnr_from_moments", "csnr_theory", "svd_bases",
           "Unimodality", "unimodality", "cka_matrix", "linear_cka", "sliced_wasserstein",
           "generalization_score", "nn_ratio"]
