"""Metrics: one module per metric, found by the registry (`metrics.base`)."""
