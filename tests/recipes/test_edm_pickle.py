"""The EDM pickle recipe (recipes/edm_pickle.py) on a stand-in: a tiny network with EDM's
preconditioning and call signature, pickled as EDM pickles are ({"ema": net}, its classes in a
module only the EDM repo folder provides), run through `reprdyn run --trust-code`."""

from __future__ import annotations

import pickle
import sys
import textwrap

import numpy as np
import pytest
import torch
from helpers import ROOT, invoke

import reprdyn

STANDIN = textwrap.dedent("""\
    import pathlib
    pathlib.Path(__file__).with_suffix(".imported").write_text("imported")
    import torch

    class TinyUNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.ModuleDict({
                "8x8_conv": torch.nn.Conv2d(1, 8, 3, padding=1),
                "8x8_block0": torch.nn.Conv2d(8, 8, 3, padding=1),
            })
            self.emb = torch.nn.Linear(1, 8)
            self.out = torch.nn.Conv2d(8, 1, 1)

        def forward(self, x, noise_labels, class_labels):
            h = self.enc["8x8_conv"](x) + self.emb(noise_labels[:, None])[:, :, None, None]
            return self.out(torch.relu(self.enc["8x8_block0"](torch.relu(h))))

    class EDMPrecond(torch.nn.Module):  # EDM's signature: forward(x, sigma, class_labels=None)
        def __init__(self, sigma_data=0.5):
            super().__init__()
            self.label_dim, self.sigma_data, self.model = 0, sigma_data, TinyUNet()

        def forward(self, x, sigma, class_labels=None):
            assert torch.is_tensor(sigma) and sigma.shape == (x.shape[0],), sigma
            sd, s = self.sigma_data, sigma.to(torch.float32).reshape(-1, 1, 1, 1)
            c_skip = sd**2 / (s**2 + sd**2)
            c_out = s * sd / (s**2 + sd**2).sqrt()
            c_in = 1 / (sd**2 + s**2).sqrt()
            c_noise = s.log() / 4
            return c_skip * x + c_out * self.model(c_in * x, c_noise.flatten(), class_labels)
    """)


@pytest.fixture
def edm_pickle(tmp_path, monkeypatch):
    """(folder, the pickle): the stand-in's module lives in folder/edm_repo, as EDM's dnnlib and
    torch_utils live in a clone of the EDM repo."""
    repo = tmp_path / "edm_repo"
    repo.mkdir()
    (repo / "standin_edm.py").write_text(STANDIN)
    monkeypatch.setattr(sys, "path", [str(repo), *sys.path])
    sys.modules.pop("standin_edm", None)
    import standin_edm

    torch.manual_seed(0)
    with open(tmp_path / "net.pkl", "wb") as f:
        pickle.dump({"ema": standin_edm.EDMPrecond()}, f)
    sys.path.remove(str(repo))  # from here on only the recipe's edm_repo can find it
    sys.modules.pop("standin_edm")
    (repo / "standin_edm.imported").unlink()
    yield tmp_path, tmp_path / "net.pkl"
    sys.modules.pop("standin_edm", None)


def _spec(folder, trust: bool) -> str:
    return textwrap.dedent(f"""\
        spec_version: 1
        name: edm
        {"trust_code: true" if trust else ""}
        model:
          kind: python
          file: {ROOT / "recipes" / "edm_pickle.py"}
          factory: load
          kwargs: {{path: {folder / "net.pkl"}, edm_repo: {folder / "edm_repo"}}}
        datasets: [{{kind: digits, name: digits}}]
        sigma: [0.1, 1.0]
        layers: [model.enc.8x8_block0, output]
        probes: [{{kind: ridge}}]
        seeds: [0]
        """)


def test_the_recipe_keeps_edms_frame(edm_pickle, monkeypatch):
    """D(x; sigma) = c_skip x + c_out F(c_in x, c_noise), computed here by hand from the
    stand-in's inner network: reprdyn's frame is EDM's, with no conversion."""
    folder, path = edm_pickle
    monkeypatch.syspath_prepend(str(ROOT / "recipes"))
    import edm_pickle as recipe

    D = recipe.load(str(path), edm_repo=str(folder / "edm_repo"))
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    for sigma in (0.01, 0.5, 3.0):
        sd = 0.5
        c_skip, c_out = sd**2 / (sigma**2 + sd**2), sigma * sd / (sigma**2 + sd**2) ** 0.5
        c_in, c_noise = 1 / (sd**2 + sigma**2) ** 0.5, np.log(sigma) / 4
        F = D.net.model(c_in * x, torch.full((5,), c_noise, dtype=torch.float32), None)
        torch.testing.assert_close(D(x, sigma), c_skip * x + c_out * F, rtol=1e-5, atol=1e-6)


def test_an_edm_pickle_runs_through_reprdyn_when_trusted(edm_pickle):
    folder, _ = edm_pickle
    (folder / "s.yaml").write_text(_spec(folder, trust=True))
    r = invoke("run", folder / "s.yaml", "--store", folder / "s.zarr", "--trust-code")
    assert r.exit_code == 0, r.stderr
    assert (folder / "edm_repo" / "standin_edm.imported").exists()  # the pickle's module
    res = reprdyn.open(folder / "s.zarr")
    assert res.features("digits", "model.enc.8x8_block0").sizes["channel"] == 8
    acc = res["digits"]["accuracy"].sel(layer="model.enc.8x8_block0")
    assert np.isfinite(acc.values).all() and float(acc.max()) > 0.5  # 10 classes: chance is 0.1


def test_without_trust_the_pickle_is_never_opened(edm_pickle):
    folder, _ = edm_pickle
    (folder / "s.yaml").write_text(_spec(folder, trust=True))
    r = invoke("run", folder / "s.yaml", "--store", folder / "s.zarr")  # no --trust-code
    assert r.exit_code == 2 and "--trust-code" in r.stderr
    assert not (folder / "edm_repo" / "standin_edm.imported").exists()
    assert not (folder / "s.zarr").exists()
