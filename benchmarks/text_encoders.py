"""What the text encoders of a text-conditioned backbone cost, and what reprdyn's prompt cache and
options save: peak host memory and time of building one tiny FLUX model's prompt embeddings, in a
fresh process each, (a) the first time, in float32 (the baseline), (b) with `offload: true`, and
(c) the second time, from the prompt cache (no encoder loads); then the same sums for the real
encoders from their parameter counts (an estimate: weights only, float32 and bfloat16).

    python benchmarks/text_encoders.py

Needs the diffusers extra. The tiny model is `reprdyn.models.tiny`'s; its encoders are tiny, so its
memory is mostly torch's own: the estimate table is where the real sizes are.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

# one run in a fresh process: load the model's prompt embeddings, report time and peak RSS
CHILD = """
import json, resource, sys, time
import torch
torch.set_num_threads(1)
from reprdyn.models.loaders import load_pretrained
from reprdyn.spec import validate_text
text = sys.argv[1]
start = time.perf_counter()
load_pretrained(validate_text(text).model)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

# the text encoders of the real models (parameters, from their configs)
REAL = {
    "SD 1.x: CLIP ViT-L/14": 123e6,
    "SD 2.x: OpenCLIP ViT-H/14": 354e6,
    "SDXL: CLIP-L + OpenCLIP-bigG": 123e6 + 695e6,
    "SD3: CLIP-L + OpenCLIP-bigG + T5-XXL encoder": 123e6 + 695e6 + 4.762e9,
    "FLUX.1: CLIP-L + T5-XXL encoder": 123e6 + 4.762e9,
}


def run(spec: str, cache: Path) -> dict:
    env = {"REPRDYN_CACHE": str(cache), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, spec], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from reprdyn.models.tiny import build

    with tempfile.TemporaryDirectory() as tmp:
        folder = build("flux", Path(tmp) / "tiny-flux")
        spec = (
            "spec_version: 1\nname: t\n"
            f"model: {{kind: flow, id: {folder}, prompt: 'a photo'{{extra}}}}\n"
            "datasets: [{kind: glyphs, name: g, size: 32, channels: 3, n_train: 8, n_test: 4}]\n"
            "sigma: [0.5]\nlayers: [transformer_blocks.0]\n"
        )
        base = run(spec.replace("{extra}", ""), Path(tmp) / "c1")
        offload = run(spec.replace("{extra}", ", offload: true"), Path(tmp) / "c2")
        cached = run(spec.replace("{extra}", ""), Path(tmp) / "c1")  # c1 holds the embedding now
    print("tiny FLUX model, one process each (peak RSS includes torch itself):")
    for name, r in (("first load, float32", base), ("offload: true", offload),
                    ("from the prompt cache", cached)):  # fmt: skip
        print(
            f"  {name:24s} {r['seconds']:6.2f} s  peak {r['peak_gib']:.2f} GiB  "
            f"(time x{r['seconds'] / base['seconds']:.2f} of the first load)"
        )
    print("real encoders, weights alone (estimate from parameter counts):")
    for name, n in REAL.items():
        print(f"  {name:52s} float32 {n * 4 / 2**30:5.1f} GiB, bfloat16 {n * 2 / 2**30:5.1f} GiB")


if __name__ == "__main__":
    main()
