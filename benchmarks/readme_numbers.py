"""Every number the README quotes, printed from stores that the shipped specs write.

    python benchmarks/readme_numbers.py [--store-dir store] [--run]

With --run, each shipped offline spec is run first (`reprdyn run` resumes: a finished store
costs nothing); without it, the stores must exist. The output is what the README's tables
hold: the main job's summary, the glyphs accuracy curves and the unimodality verdicts, the
segmentation mIoU curves, and the memorization table. Paste it over the README's numbers
when a change moves them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[1]
SPECS = ("molrg-theory", "memorization", "glyphs-unet", "glyphs-segmentation")


def _curve(values) -> str:
    return " ".join(f"{v:.3f}" for v in values)


def theory(res) -> None:
    from reprdyn.query import summarize

    print("## molrg-theory: the main job's summary")
    for r in summarize(res.path):
        print(
            f"  {r.layer} {r.input} {r.probe}: sigma* (val) {r.best_sigma:.3g}, acc@sigma* "
            f"{r.best_accuracy:.4f}, ensemble {r.ensemble_accuracy:.4f}, CSNR@sigma* "
            f"{r.csnr_at_best:.2f}, CSNR peak sigma {r.csnr_peak_sigma:.3g}, test-curve peak "
            f"{r.test_peak_sigma:.3g} / {r.test_peak_accuracy:.4f}, unimodal {r.unimodal}"
        )


def memorization(res) -> None:
    from reprdyn.metrics.unimodal import unimodality

    ds = res["molrg"]
    acc = ds["accuracy"].isel(label_noise=0, input=0).sel(layer="fc2").mean("seed")
    print("## memorization: n_train, generalisation, fc2 curve")
    for n in ds.n_train.values:
        a = acc.sel(n_train=n).squeeze()
        u = unimodality(a.sigma.values, a.values)
        gen = float(ds["generalization"].sel(n_train=n))
        print(
            f"  n={int(n)}: generalization {gen:.2f}; unimodal {u.unimodal}; peak sigma "
            f"{u.peak_sigma:.3g} at {u.peak_value:.2f}; first {a.values[0]:.2f} at sigma "
            f"{a.sigma.values[0]:.3g}; last {a.values[-1]:.2f} at sigma {a.sigma.values[-1]:.3g}"
        )


def glyphs(res) -> None:
    from reprdyn.metrics.unimodal import unimodality

    ds = res["glyphs"]
    acc = ds["accuracy"].isel(label_noise=0, input=0, probe=0).mean("seed")
    print("## glyphs-unet: clean-input ridge accuracy per layer; sigma =", _curve(acc.sigma.values))
    for layer in acc.layer.values:
        a = acc.sel(layer=layer).values
        u = unimodality(acc.sigma.values, a)
        print(
            f"  {layer:6} {_curve(a)}  rise {100 * u.rise:+.1f} pts, fall {100 * u.fall:.1f} pts, "
            f"unimodal {u.unimodal}"
        )
    print(f"  raw pixels, the same ridge probe: {raw_pixels(res):.3f}")
    best = ds["best_accuracy"].isel(label_noise=0, input=0, probe=0).mean("seed")
    val = ds["val_accuracy"].isel(label_noise=0, input=0, probe=0).mean("seed").max("sigma")
    top = str(val.idxmax("layer").values)
    at = float(best.sel(layer=top))
    print(f"  chosen on validation: layer {top}, test accuracy at its sigma* {at:.3f}")


def raw_pixels(res) -> float:
    """Test accuracy of the spec's probe (ridge, lambda by GCV) on the raw pixels instead of
    features: the baseline the layers must beat."""
    from reprdyn.caches import Context
    from reprdyn.probes import RidgeProbe
    from reprdyn.spec import validate_text

    spec = validate_text(res.attrs["spec"])
    data = Context.create(spec).data.get("glyphs")
    X = data.x.reshape(len(data.x), -1)[None]  # (1, N, pixels)
    train, test = data.split == "train", data.split == "test"
    probe = RidgeProbe(data.n_classes).fit(X[:, train], data.y[train][None])
    return float((probe.predict(X[:, test])[0, 0].cpu().numpy() == data.y[test]).mean())


def segmentation(res) -> None:
    from reprdyn.metrics.unimodal import unimodality
    from reprdyn.query import summarize_segmentation

    ds = res["glyphs"]
    miou = ds["miou"].isel(label_noise=0).mean("seed")
    print("## glyphs-segmentation: test mIoU; sigma =", _curve(miou.sigma.values))
    for probe in miou.probe.values:
        for layer in miou.layer.values:
            for inp in miou.input.values:
                m = miou.sel(probe=probe, layer=layer, input=inp).values
                if not np.isfinite(m).any():
                    continue
                u = unimodality(miou.sigma.values, m)
                print(f"  {probe:10} {layer:8} {inp:5} {_curve(m)}  unimodal {u.unimodal}")
    clean = miou.sel(input="clean").values
    noisy = miou.sel(input="noisy").values
    ok = np.isfinite(clean) & np.isfinite(noisy)
    print(f"  clean > noisy at {(clean[ok] > noisy[ok]).mean():.0%} of (sigma, set, probe) cells")
    for r in summarize_segmentation(res.path):
        what = f"{r.layer} {r.input} {r.probe}"
        print(f"  sigma* (val) {what}: {r.best_sigma:.3g}, mIoU {r.best_miou:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store-dir", default="store")
    ap.add_argument("--run", action="store_true", help="run the specs first (resuming)")
    args = ap.parse_args()
    import reprdyn

    for name in SPECS:
        path = Path(args.store_dir) / f"{name}.zarr"
        if args.run:
            cmd = ["reprdyn", "run", str(ROOT / "specs" / f"{name}.yaml"), "--store", str(path)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        if not path.exists():
            sys.exit(f"{path} does not exist; run with --run, or reprdyn run specs/{name}.yaml")
        res = reprdyn.open(path)
        {"molrg-theory": theory, "memorization": memorization, "glyphs-unet": glyphs,
         "glyphs-segmentation": segmentation}[name](res)  # fmt: skip


if __name__ == "__main__":
    main()
