"""The segment stage against a brute force: every pixel's features materialised with
F.interpolate, scikit-learn's Ridge on them, lambda chosen on validation images, mIoU by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import SEG_SMALL
from torch.nn import functional as F

from reprdyn.runner import RunOptions


def _brute_miou(truth: np.ndarray, pred: np.ndarray, M: int) -> float:
    """mIoU by counting pixels class by class."""
    ious = []
    for k in range(M):
        union = np.sum((truth == k) | (pred == k))
        if union:
            ious.append(np.sum((truth == k) & (pred == k)) / union)
    return float(np.mean(ious))


def test_seg_linear_matches_brute_force_ridge(seg_run):
    from sklearn.linear_model import Ridge

    from reprdyn import open as open_store
    from reprdyn.compute.extract import NoiseStream, extract
    from reprdyn.probes.dense_protocol import PixelLabels, image_sets
    from reprdyn.runner.context import Context
    from reprdyn.seeds import derive_seed

    spec, path = seg_run
    ctx = Context.create(spec, path)
    data = ctx.data.get("glyphs")
    fit, val, test = image_sets(spec, "glyphs", data)
    cube = open_store(path)["glyphs"]
    M, H = len(data.mask_classes), data.masks.shape[1]
    labels = PixelLabels(spec, "glyphs", data)
    for s_i, sigma in enumerate(spec.sigmas):
        net = ctx.models.denoiser("", "glyphs", s_i)
        noise = NoiseStream(
            derive_seed(spec.seed, "glyphs", "noise", "", repr(float(sigma))), data.x.shape[1:]
        )
        for inp in ("clean", "noisy"):

            def pixels(idx):  # (n_images * H * W, C): every pixel's features at once
                x = data.x[idx].astype(np.float64)
                if inp == "noisy":
                    x = x + sigma * noise.at(idx)
                maps = extract(
                    net, torch.as_tensor(x, dtype=torch.float32), sigma, ["dec.0", "dec.1"], False
                )
                up = [
                    F.interpolate(maps[n], (H, H), mode="bilinear", align_corners=False)
                    for n in ("dec.0", "dec.1")
                ]
                return (
                    torch.cat(up, 1)
                    .permute(0, 2, 3, 1)
                    .reshape(-1, sum(u.shape[1] for u in up))
                    .double()
                    .numpy()
                )

            Xf, Xv, Xt = pixels(fit), pixels(val), pixels(test)
            mu, sd = Xf.mean(0), Xf.std(0)
            sd[sd < 1e-12] = 1
            for t, p in enumerate(spec.label_noise):
                yf = np.concatenate([labels(k)[t] for k in fit])
                yv = np.concatenate([labels(k)[t] for k in val])
                scores = []
                for lam in (0.001, 0.1, 10):
                    r = Ridge(alpha=lam * len(yf)).fit((Xf - mu) / sd, np.eye(M)[yf])
                    scores.append(
                        (
                            _brute_miou(yv, r.predict((Xv - mu) / sd).argmax(1), M),
                            _brute_miou(
                                data.masks[test].reshape(-1), r.predict((Xt - mu) / sd).argmax(1), M
                            ),
                        )
                    )
                best = max(range(3), key=lambda i: scores[i][0])
                got = cube.sel(
                    sigma=sigma, layer="both", probe="seg-linear", input=inp, label_noise=p, seed=0
                ).squeeze("replicate")
                assert float(got["val_miou"]) == pytest.approx(scores[best][0], abs=1e-9)
                assert float(got["miou"]) == pytest.approx(scores[best][1], abs=1e-9)


# Sums over pixels in another order (slices, smaller forward passes) differ at float rounding, which
# can flip the prediction of a pixel that sits on a decision boundary: one pixel of the 4,096 test
# pixels (16 images of 16 x 16) moves an IoU by about 1 / 2,000. Runs that round differently must
# agree to within two such pixels, never more.
PIXEL_TOLERANCE = 1e-3


@pytest.mark.slow  # two segmentation runs
def test_results_do_not_depend_on_how_pixels_are_sliced(seg_run, tmp_path, monkeypatch):
    """Slices of one row instead of whole images: the same mIoU, to within a boundary pixel or two
    (the sums differ at float rounding)."""
    from reprdyn import load_spec, run
    from reprdyn import open as open_store
    from reprdyn.compute import dense

    spec, path = seg_run
    monkeypatch.setattr(dense, "PIXEL_BYTES", 1)
    (tmp_path / "seg.yaml").write_text(SEG_SMALL)
    spec = load_spec(tmp_path / "seg.yaml", [f"compute.cache={path.parent / 'cache'}"])
    run(spec, store=tmp_path / "again.zarr", options=RunOptions(spec_text=SEG_SMALL))
    a, b = open_store(path)["glyphs"], open_store(tmp_path / "again.zarr")["glyphs"]
    for var in ("miou", "val_miou", "class_iou"):
        np.testing.assert_allclose(a[var].values, b[var].values, rtol=0, atol=PIXEL_TOLERANCE)


def test_every_segmentation_cell_is_filled_and_nothing_else(seg_run):
    from reprdyn import open as open_store

    _, path = seg_run
    cube = open_store(path)["glyphs"]
    assert list(cube.layer.values) == ["both", "last"]
    assert cube["miou"].notnull().all() and cube["val_miou"].notnull().all()
    assert ((cube["miou"] > 0) & (cube["miou"] <= 1)).all()
    assert list(cube.segment_class.values) == ["background", "0", "1"]
    assert "accuracy" not in cube  # segmentation alone: no pooled features, no accuracy


def test_run_summary_and_report_show_segmentation(seg_run):
    import json

    from typer.testing import CliRunner

    from reprdyn.cli import app
    from reprdyn.read.report import build

    spec, path = seg_run
    spec_file = path.parent / "seg.yaml"
    out = CliRunner().invoke(app, ["run", str(spec_file), "--store", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["segmentation"]
    assert len(rows) == 2 * 2 * 2  # dense sets x inputs x probes
    assert {r["probe"] for r in rows} == {"seg-linear", "seg-mlp"}
    assert all(r["best_sigma"] in (0.1, 1.0) and 0 < r["best_miou"]["value"] <= 1 for r in rows)
    assert all(
        r["best_miou"]["low"] <= r["best_miou"]["value"] <= r["best_miou"]["high"] for r in rows
    )
    table = CliRunner().invoke(app, ["run", str(spec_file), "--store", str(path)])
    assert "mIoU@σ*" in table.stdout and "query: reprdyn query" in table.stdout
    html = build(path)
    assert "<h3>Segmentation</h3>" in html and "alt='segmentation'" in html


def test_out_of_memory_retries_the_input_with_fewer_images(seg_run, tmp_path, monkeypatch, caplog):
    """A simulated out-of-memory error: the input is redone with fewer images per forward pass
    (down to 8); the noise of every image stays, so the mIoU is that of an uninterrupted run to
    within the rounding the log line states (PIXEL_TOLERANCE)."""
    import logging

    import reprdyn.probes.dense_protocol as segment
    from reprdyn import load_spec, run
    from reprdyn import open as open_store

    monkeypatch.setattr(logging.getLogger("reprdyn"), "propagate", True)
    spec, path = seg_run
    real = segment.iter_maps

    def picky(net, x0, index, layers, how):
        for i, block in enumerate(real(net, x0, index, layers, how)):
            if how.rows > 8 and i == 0:  # a device that fits 8 images per pass
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            yield block

    monkeypatch.setattr(segment, "iter_maps", picky)
    (tmp_path / "seg.yaml").write_text(SEG_SMALL)
    spec = load_spec(tmp_path / "seg.yaml", [f"compute.cache={path.parent / 'cache'}"])
    with caplog.at_level("WARNING", logger="reprdyn"):
        run(spec, store=tmp_path / "oom.zarr", options=RunOptions(spec_text=SEG_SMALL))
    assert "with 8 images per forward pass" in caplog.text and "float rounding" in caplog.text
    a, b = open_store(path)["glyphs"], open_store(tmp_path / "oom.zarr")["glyphs"]
    np.testing.assert_allclose(a["miou"].values, b["miou"].values, rtol=0, atol=PIXEL_TOLERANCE)
