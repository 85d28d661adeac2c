"""Metrics: CSNR (empirical, from moments with SVD bases, closed form) and curve-shape summaries."""
from .csnr import ClassMoments, class_energy, csnr, csnr_from_moments, csnr_theory, svd_bases
from .unimodal import Unimodality, unimodality

__all__ = ["ClassMoments", "class_energy", "csnr", "csnr_from_moments", "csnr_theory", "svd_bases",
           "Unimodality", "unimodality"]
