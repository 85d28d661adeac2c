"""Every number the README quotes, with its interval, printed from stores that the shipped specs
write.

    python benchmarks/readme_numbers.py [--store-dir store] [--run]

With --run, each shipped offline spec is run first (`reprdyn run` resumes: a finished store costs
nothing); without it, the stores must exist. The output is what the README's tables hold: the main
job's summary, Table 1 on digits, the glyphs accuracy curves with their verdicts, the segmentation
curves, DAE against diffusion and the memorization sweep. Every interval is the summary's: 95%,
hierarchical over model replicates, seeds and paired test resamples (docs/theory.md §8). A claim
the README makes must be one these lines support; paste them over the README's numbers when a
change moves them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from spec_times import OFFLINE  # this folder: run as python benchmarks/readme_numbers.py

ROOT = Path(__file__).parents[1]
# the README quotes every shipped offline spec but molrg-mlp (an example, timed only)
SPECS = tuple(s for s in OFFLINE if s != "molrg-mlp")


def _hier(boot, confidence: float, seed: int) -> tuple[float, float, float]:
    from reprdyn.maths.uncertainty import hierarchical

    return hierarchical(boot.transpose("replicate", "seed", "boot").values, confidence, seed)


def _settings(ds):
    from reprdyn.read.summary import settings
    from reprdyn.seeds import derive_seed

    confidence, _, seed, _ = settings(ds)
    return confidence, derive_seed(seed, "hierarchical")


def _pm(mean: float, low: float, high: float, digits: int = 3) -> str:
    return f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"


def hardware(res) -> None:
    hw = res.attrs.get("hardware") or {}
    print(
        f"  computed on {hw.get('machine')} ({hw.get('cpu_capability')}), {hw.get('cpu_count')} "
        f"cores, GPUs: {', '.join(hw.get('gpus') or []) or 'none'}, torch {hw.get('torch')}"
    )


def theory(res) -> None:
    from reprdyn.read.summary import summarize

    print("## molrg-theory: the main job's summary")
    for r in summarize(res.path):
        print(
            f"  {r.layer} {r.input} {r.probe}: sigma* (val) {r.best_sigma_label}, acc@sigma* "
            f"{r.best_accuracy}, ensemble {r.ensemble_accuracy}, gain {r.ensemble_gain.signed()} "
            f"({r.ensemble_gain.sign}), CSNR@sigma* {r.csnr_at_best:.2f}, CSNR peak sigma "
            f"{r.csnr_peak_sigma:.3g}, test-curve peak {r.test_peak_sigma:.3g} / "
            f"{r.test_peak_accuracy:.4f}, unimodal {r.unimodal} ({r.unimodal_prob:.2f})"
        )


def digits(res) -> None:
    from reprdyn.read.summary import compare, gains

    print("## digits-unet: Table 1, ensemble gain over the best single sigma (points)")
    for r in gains(res.path):
        if r.input == "clean":
            g = r.ensemble_gain
            print(
                f"  {r.layer:6} {r.probe:9} p={r.label_noise:g}: best {r.best_accuracy}, "
                f"ensemble {r.ensemble_accuracy}, gain {100 * g.value:+.1f} "
                f"[{100 * g.low:+.1f}, {100 * g.high:+.1f}] ({g.sign})"
            )
    for r in compare(res.path):
        if r.comparison != "ensemble_gain":
            d = r.difference
            print(f"  {r.what}: {r.layer} {r.input} {r.probe}: {d.signed()} ({d.sign})")


def glyphs(res, dataset: str = "glyphs") -> None:
    from reprdyn.read.summary import compare, summarize

    ds = res[dataset]
    acc = ds["accuracy"].sel(label_noise=0, input="clean").isel(probe=0)
    mean = acc.mean(("replicate", "seed"))
    name = res.attrs["spec_resolved"]["name"]
    print(f"## {name}: clean-input ridge accuracy, mean of replicates; sigma =")
    print("  " + " ".join(f"{s:.3f}" for s in mean.sigma.values))
    rows = {r.layer: r for r in summarize(res.path) if r.input == "clean"}
    diffs = {r.layer: r for r in compare(res.path) if r.comparison == "features_minus_pixels"}
    for layer in mean.layer.values:
        r = rows[str(layer)]
        m = mean.sel(layer=layer).values
        spread = acc.sel(layer=layer).std("replicate").mean("seed").values
        d = diffs.get(str(layer))
        print(
            f"  {layer:6} {' '.join(f'{v:.3f}' for v in m)} | replicate sd at peak "
            f"{spread[int(np.argmax(m))]:.3f} | sigma* {r.best_sigma_label}, acc@sigma* "
            f"{r.best_accuracy} | unimodal {r.unimodal} ({r.unimodal_prob:.2f}) | ensemble gain "
            f"{r.ensemble_gain.signed()} ({r.ensemble_gain.sign})"
            + (f" | vs pixels {d.difference.signed()} ({d.sign})" if d else "")
        )
    best = max(rows.values(), key=lambda r: r.val_accuracy)
    print(
        f"  chosen on validation: {best.layer} at sigma* {best.best_sigma_label}, test "
        f"{best.best_accuracy}"
    )


def mnist(res) -> None:
    from reprdyn.read.summary import gains

    glyphs(res, "mnist")
    print("## mnist-unet: ensemble gain over the best single sigma (points), clean input")
    for r in gains(res.path):
        g = r.ensemble_gain
        print(
            f"  {r.layer:6} p={r.label_noise:g}: best {r.best_accuracy}, ensemble "
            f"{r.ensemble_accuracy}, gain {100 * g.value:+.1f} [{100 * g.low:+.1f}, "
            f"{100 * g.high:+.1f}] ({g.sign})"
        )


def csnr_frames(res, layers=("enc.1", "dec.0"), at=(0, 2, -1)) -> None:
    """docs/theory.md §4: CSNR of learned features under the paper's rule, global centring alone,
    and the default frame (centred, whitened, Gavish-Donoho rank), from the stored train-split
    features of replicate 0; then the stored default, mean of the replicates."""
    from reprdyn.maths.csnr import ClassMoments, csnr_of
    from reprdyn.metrics.csnr import Csnr

    rules = {
        "paper (raw, 90% energy)": Csnr(center="none", whiten=False, rank="energy"),
        "global centring, 90% energy": Csnr(center="global", whiten=False, rank="energy"),
        "default (centred, whitened, GD rank)": Csnr(),
    }
    stored = res["glyphs"]["csnr_overall"].sel(input="clean")
    print("## glyphs-unet: CSNR of clean-input features in three frames (docs/theory.md §4)")
    for layer in layers:
        f = res.features("glyphs", layer)["features"]
        train = f["split"].values == "train"
        y = f["label"].values[train]
        for name, cfg in rules.items():
            cells = []
            for i in at:
                x = f.isel(replicate=0, sigma=i).sel(input="clean").values[train]  # (n, C)
                m = ClassMoments(int(y.max()) + 1, x.shape[1])
                m.update(x, y)
                cells.append(f"sigma {float(f.sigma[i]):.3g}: {csnr_of(m, cfg, None)[0]:.3f}")
            print(f"  {layer:6} replicate 0, {name}: " + ", ".join(cells))
        mean = stored.sel(layer=layer).mean("replicate")
        cells = [f"sigma {float(mean.sigma[i]):.3g}: {float(mean[i]):.3f}" for i in at]
        peak = float(mean.sigma[int(np.nanargmax(mean.values))])
        cells.append(f"peak at sigma {peak:.3g}")
        print(f"  {layer:6} stored default, mean of replicates: " + ", ".join(cells))


def segmentation(res) -> None:
    from reprdyn.read.summary import summarize_segmentation

    ds = res["glyphs"]
    confidence, seed = _settings(ds)
    low = ds.sel(label_noise=0)
    mean = low["miou"].mean(("replicate", "seed"))
    print("## glyphs-segmentation: test mIoU, mean of replicates; sigma =")
    print("  " + " ".join(f"{s:.3f}" for s in mean.sigma.values))
    for probe in mean.probe.values:
        for layer in mean.layer.values:
            for inp in mean.input.values:
                m = mean.sel(probe=probe, layer=layer, input=inp).values
                if np.isfinite(m).any():
                    print(f"  {probe:10} {layer:8} {inp:5} {' '.join(f'{v:.3f}' for v in m)}")
    print("  clean - noisy mIoU per sigma, paired (interval excludes 0?):")
    boot = low["miou_boot"]
    for probe in mean.probe.values:
        for layer in mean.layer.values:
            diff = boot.sel(probe=probe, layer=layer, input="clean") - boot.sel(
                probe=probe, layer=layer, input="noisy"
            )
            if not np.isfinite(diff.values).any():
                continue
            cells = []
            for s in diff.sigma.values:
                m, lo, hi = _hier(diff.sel(sigma=s), confidence, seed)
                cells.append(f"{m:+.3f}{'*' if lo > 0 or hi < 0 else ''}")
            print(f"  {probe:10} {layer:8} {' '.join(cells)}   (* interval excludes 0)")
    for r in summarize_segmentation(res.path):
        what = f"{r.layer} {r.input} {r.probe}"
        print(f"  sigma* (val) {what}: {r.best_sigma_label}, mIoU {r.best_miou}")


def dae(res) -> None:
    from reprdyn.read.summary import compare

    print("## dae-vs-diffusion: diffusion minus DAE, test accuracy at sigma*")
    for r in compare(res.path):
        if r.comparison == "diffusion_minus_dae":
            print(f"  {r.layer} {r.probe}: {r.difference.signed()} ({r.sign})")


def memorization(res) -> None:
    from reprdyn.maths.uncertainty import verdict

    ds = res["molrg"]
    confidence, seed = _settings(ds)
    low = ds.sel(label_noise=0, input="clean", layer="fc2").isel(probe=0)
    print("## memorization: n_train x steps, generalisation, sample distance, fc2 curve, shape")
    for n in ds.n_train.values:
        for steps in ds.steps.values:
            at = low.sel(n_train=n, steps=steps)
            gen = at["generalization"].values.ravel()
            ratio = at["sample_distance_ratio"].values.ravel()
            curve = at["accuracy"].mean(("replicate", "seed")).squeeze()
            p = float(np.nanmean(at["unimodal_prob"].values))
            peak = int(np.nanargmax(curve.values))
            print(
                f"  n={int(n)}, steps={int(steps)}: generalization {np.mean(gen):.2f} (replicates "
                f"{np.round(gen, 2).tolist()}), "
                f"sample distance ratio {np.mean(ratio):.2f}; unimodal {verdict(p, confidence)} "
                f"({p:.2f}); peak sigma {float(curve.sigma[peak]):.3g} at "
                f"{curve.values[peak]:.3f}; first {curve.values[0]:.3f}, "
                f"last {curve.values[-1]:.3f}"
            )
    _tables(res, "shapes", "shape_change")


def _tables(res, *keys: str) -> None:
    """The summary tables `keys` of a store, as the run prints them (one line per row)."""
    from reprdyn import metrics
    from reprdyn.read.summary import as_cells, rows_of

    declared = {t.key: t for _, t in metrics.tables()}
    for key in keys:
        rows = rows_of(str(res.path), key)
        header, body = as_cells(rows, declared[key].columns, declared[key].layer)
        print(f"## {key}: " + " | ".join(header))
        for cells in body:
            print("  " + " | ".join(str(c) for c in cells))


def memorization_unet(res) -> None:
    _tables(res, "shapes", "shape_change")


def digits_probes(res) -> None:
    _tables(res, "summary", "joint", "label_free", "shapes")


def cleandift(res) -> None:
    from reprdyn.read.summary import compare

    print("## cleandift: noisy-input ensemble minus clean input at sigma*, per level")
    ds = res["digits"]
    confidence, seed = _settings(ds)
    for level in ds.label_noise.values:
        for layer in ds.layer.values:
            at = ds.sel(label_noise=level, layer=layer).isel(probe=0)
            m, lo, hi = _hier(at["noisy_ensemble_minus_clean_boot"], confidence, seed)
            print(f"  p={float(level):g} {layer}: {m:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    rows = [r for r in compare(str(res.path)) if r.comparison == "clean_minus_noisy"]
    for r in rows:
        print(f"  clean - noisy at sigma*, {r.layer}: {r.difference.signed()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store-dir", default="store")
    ap.add_argument("--run", action="store_true", help="run the specs first (resuming)")
    ap.add_argument("--only", nargs="*", default=SPECS)
    args = ap.parse_args()
    import reprdyn

    for name in args.only:
        path = Path(args.store_dir) / f"{name}.zarr"
        if args.run:
            cmd = ["reprdyn", "run", str(ROOT / "specs" / f"{name}.yaml"), "--store", str(path)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        if not path.exists():
            sys.exit(f"{path} does not exist; run with --run, or reprdyn run specs/{name}.yaml")
        res = reprdyn.open(path)
        {
            "molrg-theory": theory,
            "digits-unet": digits,
            "glyphs-unet": lambda res: (glyphs(res), csnr_frames(res)),
            "glyphs-segmentation": segmentation,
            "mnist-unet": mnist,
            "dae-vs-diffusion": dae,
            "memorization": memorization,
            "memorization-unet": memorization_unet,
            "digits-probes": digits_probes,
            "cleandift": cleandift,
        }[name](res)
        hardware(res.points[0][1] if res.sweep_dims else res)


if __name__ == "__main__":
    main()
