"""An NVlabs EDM (or pixel-space EDM2) network pickle as a reprdyn `kind: python` model.

The paper's Table 1 probes EDM checkpoints (github.com/NVlabs/edm, e.g.
edm-cifar10-32x32-uncond-vp.pkl). They are pickles that carry code: unpickling one runs it. So they
load only through reprdyn's double opt-in for code (`trust_code: true` in the spec and
`--trust-code` on the command line), and only from a file you trust.

    model:
      kind: python
      file: edm_pickle.py                 # this file, copied beside the spec
      factory: load
      kwargs:
        path: /models/edm-cifar10-32x32-uncond-vp.pkl
        edm_repo: /src/edm                # a clone of NVlabs/edm: the pickle imports its
                                          # dnnlib and torch_utils modules
    trust_code: true

The frame needs no conversion: EDM's D(x; sigma) takes x = x0 + sigma * eps with images in
[-1, 1] and estimates x0, which is reprdyn's own frame (docs/theory.md §1). Its layers are the
EDM network's own module names (`reprdyn layers SPEC --trust-code --match 'model.enc.*'`), e.g.
model.enc.16x16_block1 or model.dec.8x8_in0. A class-conditional network gets the
one-hot label `class_label` (default: none, which EDM's networks read as a zero label).
Latent EDM2 models (ImageNet-512) also need the Stable Diffusion autoencoder: not covered here.
"""

from __future__ import annotations

import pickle
import sys

import torch


class EDMDenoiser(torch.nn.Module):
    """D(x; sigma) of an EDM network, called as reprdyn calls a denoiser: forward(x, sigma) with
    sigma a float."""

    def __init__(self, net: torch.nn.Module, class_label: int | None = None):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.class_label = class_label

    def forward(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        B = x.shape[0]
        sigma = torch.full((B,), float(sigma), device=x.device, dtype=torch.float32)  # (B,)
        labels = None
        dim = int(getattr(self.net, "label_dim", 0) or 0)
        if dim and self.class_label is not None:
            labels = torch.zeros(B, dim, device=x.device)  # (B, label_dim): one-hot
            labels[:, self.class_label] = 1
        return self.net(x, sigma, labels).to(x.dtype)  # (B, C, H, W): the estimate of x0


def load(path: str, edm_repo: str | None = None, key: str = "ema", class_label=None):
    """The network stored under `key` in an EDM pickle (EDM keeps the EMA weights as 'ema';
    EDM2 snapshots do too). `edm_repo` goes on sys.path first, for the modules the pickle
    names."""
    if edm_repo and edm_repo not in sys.path:
        sys.path.insert(0, edm_repo)
    with open(path, "rb") as f:
        data = pickle.load(f)  # runs code: trusted files only (hence trust_code)
    net = data[key] if isinstance(data, dict) else data
    return EDMDenoiser(net, class_label)
