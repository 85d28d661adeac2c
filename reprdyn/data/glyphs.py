"""Procedural glyph images: characters rendered from the fonts that ship inside matplotlib, with
masks.

No download: every machine with the base install has these fonts and Pillow.
Each sample draws a character (its class), a font, a size, a rotation, a shift,
a contrast and a polarity, from its own seeded generator; the glyph is drawn at
four times the resolution and box-averaged down, so edges are anti-aliased. The
per-pixel mask marks where the glyph covers at least half a pixel: class + 1
there (or 1 in binary mode), 0 for background. Rendered arrays are cached on
disk by the configuration, so repeated runs do not render again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

OVERSAMPLE = 4
FONT_CACHE = 32  # loaded (face, size) pairs kept while rendering: memory stays flat in N
# faces of matplotlib's mpl-data/fonts/ttf that draw digits and letters as such (cmsy10 maps ASCII
# to symbols, cmex10 has no digits; the Display, STIX size and non-Unicode files draw nothing here)
FONTS = {
    "dejavu-sans": "DejaVuSans.ttf",
    "dejavu-sans-bold": "DejaVuSans-Bold.ttf",
    "dejavu-sans-oblique": "DejaVuSans-Oblique.ttf",
    "dejavu-sans-bold-oblique": "DejaVuSans-BoldOblique.ttf",
    "dejavu-mono": "DejaVuSansMono.ttf",
    "dejavu-mono-bold": "DejaVuSansMono-Bold.ttf",
    "dejavu-mono-oblique": "DejaVuSansMono-Oblique.ttf",
    "dejavu-mono-bold-oblique": "DejaVuSansMono-BoldOblique.ttf",
    "dejavu-serif": "DejaVuSerif.ttf",
    "dejavu-serif-bold": "DejaVuSerif-Bold.ttf",
    "dejavu-serif-italic": "DejaVuSerif-Italic.ttf",
    "dejavu-serif-bold-italic": "DejaVuSerif-BoldItalic.ttf",
    "stix": "STIXGeneral.ttf",
    "stix-bold": "STIXGeneralBol.ttf",
    "stix-italic": "STIXGeneralItalic.ttf",
    "stix-bold-italic": "STIXGeneralBolIta.ttf",
    "cm-roman": "cmr10.ttf",
    "cm-bold": "cmb10.ttf",
    "cm-italic": "cmti10.ttf",
    "cm-math-italic": "cmmi10.ttf",
    "cm-sans": "cmss10.ttf",
    "cm-typewriter": "cmtt10.ttf",
}


def font_path(name: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / FONTS[name]


def cache_key(cfg, seed: int) -> str:
    """What the arrays depend on: the block, the seed, and the font files and Pillow that draw
    them."""
    import PIL

    fonts = sorted(set(cfg.fonts or FONTS) | set(cfg.test_fonts or ()))
    files = [hashlib.sha256(font_path(f).read_bytes()).hexdigest()[:12] for f in fonts]
    blob = json.dumps(
        [cfg.model_dump(mode="json", exclude={"name", "seed"}), seed, files, PIL.__version__, 1]
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def glyphs(cfg, seed: int, cache: str | None = None):
    """(images (N, C, size, size) in [-1, 1], labels, masks (N, size, size), n_train, class names);
    train first, then test, read from the cache when this configuration was rendered before."""
    folder = _cache_dir(cache)
    path = folder / f"{cache_key(cfg, seed)}.npz"
    if path.exists():
        with np.load(path) as f:
            return f["x"], f["y"], f["masks"], int(f["n_train"]), list(cfg.chars)
    x, y, masks, n_train = _render_all(cfg, seed)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, x=x, y=y, masks=masks, n_train=n_train)
    os.replace(tmp, path)  # atomic: a half-written cache file is never read
    return x, y, masks, n_train, list(cfg.chars)


def _cache_dir(configured: str | None) -> Path:
    from ..spec.tree import cache_root

    return cache_root(configured) / "glyphs"


def _render_all(cfg, seed: int):
    from PIL import ImageFont

    train_fonts = [f for f in (cfg.fonts or FONTS) if f not in (cfg.test_fonts or ())]
    test_fonts = list(cfg.test_fonts or train_fonts)
    size_px = cfg.size * OVERSAMPLE
    loaded = {}

    def font(name: str, pixels: int):
        if (name, pixels) not in loaded:
            if len(loaded) >= FONT_CACHE:  # each face at each size holds its own glyph cache
                loaded.clear()
            loaded[name, pixels] = ImageFont.truetype(str(font_path(name)), pixels)
        return loaded[name, pixels]

    xs, ys, ms = [], [], []
    for split, n, faces in (("train", cfg.n_train, train_fonts), ("test", cfg.n_test, test_fonts)):
        for i in range(n):
            # every sample from its own generator: adding samples never changes the ones before
            rng = np.random.default_rng([seed, 0x474C5950, split == "test", i])  # "GLYP"
            k = int(rng.integers(len(cfg.chars)))
            face = faces[int(rng.integers(len(faces)))]
            img, mask = _render(cfg, cfg.chars[k], face, size_px, rng, font)
            xs.append(img)
            ys.append(k)
            ms.append(np.where(mask, k + 1 if cfg.mask == "class" else 1, 0).astype(np.uint8))
    return (np.stack(xs).astype(np.float32), np.array(ys, np.int64), np.stack(ms), cfg.n_train)


def _render(cfg, char: str, face: str, size_px: int, rng: np.random.Generator, font):
    """One (C, size, size) image in [-1, 1] and its boolean glyph mask (size, size)."""
    from PIL import Image, ImageDraw

    scale = rng.uniform(*cfg.scale)
    angle = rng.uniform(*cfg.rotation)
    shift = rng.uniform(-cfg.translation, cfg.translation, size=2) * size_px
    centre = (size_px / 2 + shift[0], size_px / 2 + shift[1])
    ink = Image.new("L", (size_px, size_px), 0)  # glyph coverage, drawn large
    pixels = max(int(round(scale * size_px / 0.73)), 4)  # a digit is about 0.73 em tall
    ImageDraw.Draw(ink).text(centre, char, fill=255, font=font(face, pixels), anchor="mm")
    ink = ink.rotate(angle, resample=Image.BICUBIC, center=centre)
    clutter = Image.new("L", (size_px, size_px), 0)
    draw = ImageDraw.Draw(clutter)
    for _ in range(cfg.clutter):  # strokes that are not the glyph: they stay out of the mask
        a, b = rng.uniform(0, size_px, size=2), rng.uniform(0, size_px, size=2)
        draw.line(
            [tuple(a), tuple(b)], fill=int(rng.integers(60, 200)), width=max(size_px // 16, 1)
        )
    small = (cfg.size, cfg.size)
    alpha = np.asarray(ink.resize(small, Image.BOX), np.float64) / 255  # (size, size) coverage
    stroke = np.asarray(clutter.resize(small, Image.BOX), np.float64) / 255
    contrast = rng.uniform(*cfg.contrast)
    light = {"light-on-dark": True, "dark-on-light": False}.get(cfg.polarity, rng.random() < 0.5)
    channels = 3 if cfg.channels == 3 else 1
    base = rng.uniform(0, 1 - contrast, size=channels)  # the darker of the two, per channel
    bg, fg = (base, base + contrast) if light else (base + contrast, base)
    clutter_tone = rng.uniform(0, 1, size=channels)
    img = bg[:, None, None] + (clutter_tone - bg)[:, None, None] * stroke * (1 - alpha)
    img = img + (fg - bg)[:, None, None] * alpha  # (C, size, size) in [0, 1]
    return 2 * np.clip(img, 0, 1) - 1, alpha >= 0.5
