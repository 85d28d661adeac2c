"""Metrics: CSNR (empirical and closed form) and curve-shape summaries."""
from .csnr import class_energy, csnr, csnr_theory
from .unimodal import Unimodality, unimodality

__all__ = ["class_energy", "csnr", "csnr_theory", "Unimodality", "unimodality"]
