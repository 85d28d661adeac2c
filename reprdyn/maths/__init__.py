"""Stats: the numerics the metrics call — CSNR moments and the closed form, curve shapes,
distances between feature sets, IoU, the posterior's quality, the generalisation score, and the
bootstrap behind every interval. Numpy only at import time."""
