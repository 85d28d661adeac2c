"""Denoising quality: the generation side of the paper's generation-representation trade-off."""

from __future__ import annotations

import numpy as np


def posterior_quality(
    net,
    x0: np.ndarray,
    sigma: float,
    noise,
    rows: int = 64,
    device: str = "cpu",
    data_range: float = 2.0,
) -> tuple[float, float]:
    """(MSE per element, PSNR in dB) of D(x0 + sigma eps; sigma) against x0, over the rows of x0.

    PSNR = 10 log10(data_range^2 / MSE) with the dataset's declared range (2 for data in
    [-1, 1]), never the samples' own, so it does not move with the number of samples. The noisy
    input is formed in float64 and fed as float32; the estimate is read back in float64.
    """
    import torch

    sq, count = 0.0, 0
    for start in range(0, len(x0), rows):  # the same aligned blocks as extraction
        xb = np.asarray(x0[start : start + rows], np.float64)  # (B, *shape)
        x = xb + sigma * noise(start, start + len(xb))
        with torch.inference_mode():
            out = (
                net(torch.as_tensor(x, dtype=torch.float32, device=device), sigma)
                .to("cpu", torch.float64)
                .numpy()
            )
        sq += float(np.square(out.reshape(xb.shape) - xb).sum())
        count += xb.size
    mse = sq / max(count, 1)
    return mse, float(10 * np.log10(data_range**2 / mse)) if mse > 0 else float("inf")
