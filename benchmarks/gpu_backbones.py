"""Throughput and peak memory of the backbones reprdyn probes — Stable Diffusion 2.1 and XL,
SD3 and FLUX — on a GPU, with random weights in each model's real configuration (no download):
for a session lent a device.

    python benchmarks/gpu_backbones.py [--images 256] [--dtype bfloat16] [--only sd3-medium]
                                       [--json out.json]
    python benchmarks/gpu_backbones.py --smoke        # tiny configs on the CPU: does it run?

For each backbone it encodes `--images` random images with the autoencoder (float32), then at
four sigmas runs reprdyn's own extraction (the VP or flow wrapper, the prompt conditioning,
hooks on two blocks, pooling) and, as the baseline measured in the same run, the bare network's
forward on the same latents. It prints images per second for both, their ratio (reprdyn's
overhead), and the peak GPU memory of each; `cifar-ddpm` is a CIFAR-10-sized extraction instead:
50,000 32x32 images x 10 sigmas x every block of google/ddpm-cifar10-32's 36M-parameter U-Net
(its real configuration, random weights). Every figure, with the peak host memory, also goes to a
JSON file (`--json`).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import torch

# the UNet and autoencoder configurations of the hub models (their config.json, abridged)
SD21_UNET = dict(
    sample_size=96, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=1024,
    attention_head_dim=(5, 10, 20, 20), use_linear_projection=True,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
)  # fmt: skip
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280), cross_attention_dim=2048,
    attention_head_dim=(5, 10, 20), transformer_layers_per_block=(1, 2, 10),
    use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
)  # fmt: skip
VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    layers_per_block=2,
)  # fmt: skip
# the flow transformers' configurations (SD3-medium and FLUX.1-schnell, their config.json)
SD3_TRANSFORMER = dict(
    sample_size=128, patch_size=2, in_channels=16, num_layers=24, attention_head_dim=64,
    num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536,
    pooled_projection_dim=2048, out_channels=16, pos_embed_max_size=192,
)  # fmt: skip
FLUX_TRANSFORMER = dict(
    patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
    num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768,
    guidance_embeds=False, axes_dims_rope=(16, 56, 56),
)  # fmt: skip
VAE16 = dict(VAE, latent_channels=16, use_quant_conv=False, use_post_quant_conv=False)
# name -> (family, network config, image side, text tokens, text width, pooled width, layers)
BACKBONES = {
    "sd-2.1": ("sd", SD21_UNET, 512, 77, 1024, None, ["mid_block", "up_blocks.1"]),
    "sdxl-base-1.0": ("sd", SDXL_UNET, 1024, 77, 2048, 1280, ["mid_block", "up_blocks.1"]),
    "sd3-medium": ("sd3", SD3_TRANSFORMER, 512, 77 + 256, 4096, 2048,
                   ["transformer_blocks.6", "transformer_blocks.12"]),
    "flux.1-schnell": ("flux", FLUX_TRANSFORMER, 512, 256, 4096, 768,
                       ["transformer_blocks.9", "single_transformer_blocks.18"]),
}  # fmt: skip
# google/ddpm-cifar10-32's UNet2DModel (its config.json): 35.7 M parameters
CIFAR_UNET = dict(
    sample_size=32, in_channels=3, out_channels=3, layers_per_block=2,
    block_out_channels=(128, 256, 256, 256),
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
)  # fmt: skip
CIFAR_LAYERS = [*(f"down_blocks.{i}" for i in range(4)), "mid_block",
                *(f"up_blocks.{i}" for i in range(4))]  # fmt: skip
SMOKE_CIFAR = dict(CIFAR_UNET, block_out_channels=(8, 16, 16, 16), norm_num_groups=4)
SMOKE = dict(
    sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
    norm_num_groups=4, cross_attention_dim=8, attention_head_dim=2,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
)  # fmt: skip
SMOKE_VAE = dict(
    VAE, block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
    up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, norm_num_groups=4,
)  # fmt: skip


SMOKE_FLOW = {
    "sd3": dict(
        sample_size=4, patch_size=2, in_channels=16, num_layers=2, attention_head_dim=4,
        num_attention_heads=2, joint_attention_dim=16, caption_projection_dim=8,
        pooled_projection_dim=12, out_channels=16, pos_embed_max_size=8,
    ),
    "flux": dict(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=16, pooled_projection_dim=12,
        axes_dims_rope=(2, 2, 4),
    ),
}  # fmt: skip
SMOKE_LAYERS = {"sd": ["mid_block", "up_blocks.1"], "sd3": ["transformer_blocks.0"] * 2,
                "flux": ["transformer_blocks.0", "single_transformer_blocks.0"]}  # fmt: skip


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak(device: str) -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")


def _reset(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _vp(family, cfg, text, pooled, dtype, side, scale, device):
    """kind: sd's denoiser over a random UNet2DConditionModel, and the bare UNet call."""
    import diffusers

    from reprdyn.models.pretrained import pretrained_vp
    from reprdyn.models.stable_diffusion import ConditionedNet

    unet = diffusers.UNet2DConditionModel(**cfg).to(device, dtype).eval()
    sched = diffusers.DDPMScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012
    )  # SD's schedule
    context, pool = text
    denoiser = pretrained_vp(
        unet, sched.alphas_cumprod.double().numpy(), "epsilon", ConditionedNet,
        context=context, pooled=pool, vae_scale=scale,
    ).to(device)  # fmt: skip

    def bare(block, sigma):  # the UNet alone, at the same timestep, on the scaled latents
        t = torch.tensor(float(denoiser.schedule.timestep([sigma])[0]), device=device)
        B = len(block)
        kw = {"encoder_hidden_states": context.expand(B, -1, -1).to(dtype)}
        if pool is not None:
            ids = torch.tensor([side, side, 0, 0, side, side], device=device, dtype=dtype)
            kw["added_cond_kwargs"] = {
                "text_embeds": pool.expand(B, -1).to(dtype), "time_ids": ids.expand(B, 6),
            }  # fmt: skip
        unet((block / (1 + sigma**2) ** 0.5).to(dtype), t, **kw)

    return denoiser, bare


def _flow(family, cfg, text, dtype, device):
    """kind: flow's denoiser over a random SD3 or FLUX transformer, and the bare call."""
    import diffusers

    from reprdyn.maths.schedules import FlowSchedule
    from reprdyn.models.flow import FluxNet, SD3Net
    from reprdyn.models.precond import FlowPrecond

    cls = diffusers.SD3Transformer2DModel if family == "sd3" else diffusers.FluxTransformer2DModel
    with torch.device(device):  # 12 B parameters: built where they run
        net = cls(**cfg).to(dtype).eval()
    context, pool = text
    raw = SD3Net(net, 1000, context, pool) if family == "sd3" else FluxNet(net, context, pool, None)
    denoiser = FlowPrecond(raw, FlowSchedule(1000)).to(device)

    def bare(block, sigma):  # the transformer through the same packing, without the wrapper
        t = torch.full((len(block),), sigma / (1 + sigma), device=device)
        raw((block / (1 + sigma)).to(dtype), t)

    return denoiser, bare


def _timed(run, n: int, device: str) -> tuple[float, float]:
    """(images per second, peak GPU memory in GiB) of `run()` over n images."""
    _reset(device)
    _sync(device)
    start = time.perf_counter()
    run()
    _sync(device)
    return n / (time.perf_counter() - start), _peak(device)


def bench_cifar(args, device: str) -> dict:
    """A CIFAR-10-sized extraction: every block of a DDPM U-Net at 10 sigmas, pooled, against the
    bare U-Net's forward on the same inputs."""
    import diffusers
    import numpy as np

    from reprdyn.compute.extract import FORWARD_ROWS, extract
    from reprdyn.models.pretrained import pretrained_vp

    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(**(SMOKE_CIFAR if args.smoke else CIFAR_UNET))
    unet = unet.to(device, dtype).eval()
    sched = diffusers.DDPMScheduler()  # DDPM's linear betas, as the hub model's
    denoiser = pretrained_vp(unet, sched.alphas_cumprod.double().numpy(), "epsilon").to(device)
    n = args.cifar_images
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(n, 3, 32, 32, generator=g) * 2 - 1).to(device)  # (N, 3, 32, 32)
    sigmas = np.geomspace(0.02, 50.0, 10)
    extract(denoiser, x[:2], float(sigmas[0]), CIFAR_LAYERS)  # warm-up

    def ours():
        for sigma in sigmas:
            for block in x.split(FORWARD_ROWS * 8):
                extract(denoiser, block, float(sigma), CIFAR_LAYERS)

    def bare():
        with torch.inference_mode():
            for sigma in sigmas:
                t = torch.tensor(float(denoiser.schedule.timestep([sigma])[0]), device=device)
                for block in x.split(FORWARD_ROWS * 8):
                    unet((block / (1 + sigma**2) ** 0.5).to(dtype), t)

    rate, peak = _timed(ours, len(sigmas) * n, device)
    base, base_peak = _timed(bare, len(sigmas) * n, device)
    params = sum(p.numel() for p in unet.parameters()) / 1e6
    print(
        f"  cifar-ddpm ({params:,.1f} M parameters, {n:,} images x 10 sigmas x "
        f"{len(CIFAR_LAYERS)} blocks): reprdyn {rate:,.0f} img/s (peak {peak:.1f} GiB), bare "
        f"network {base:,.0f} img/s (peak {base_peak:.1f} GiB), ratio {rate / base:.2f}",
        flush=True,
    )
    return dict(name="cifar-ddpm", params_m=params, images=n, sigmas=len(sigmas),
                layers=len(CIFAR_LAYERS), ours_img_s=rate, bare_img_s=base, ratio=rate / base,
                ours_peak_gib=peak, bare_peak_gib=base_peak)  # fmt: skip


def bench(name: str, spec: tuple, args, device: str) -> dict:
    import numpy as np

    from reprdyn.compute.extract import FORWARD_ROWS, extract
    from reprdyn.models.pretrained import LatentEncoder

    family, cfg, side, tokens, width, pooled, layers = spec
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    vae_cfg = (SMOKE_VAE if args.smoke else VAE) | (
        {} if family == "sd" else {"latent_channels": 16}
    )
    if family != "sd" and not args.smoke:
        vae_cfg = VAE16
    vae = diffusers_vae(vae_cfg, device)  # float32, as reprdyn keeps it
    scale = 2 ** (len(vae_cfg["block_out_channels"]) - 1)
    context = torch.zeros(1, tokens, width, device=device)
    pool = torch.zeros(1, pooled, device=device) if pooled else None
    if family == "sd":
        denoiser, bare = _vp(family, cfg, (context, pool), pooled, dtype, side, scale, device)
    else:
        denoiser, bare = _flow(family, cfg, (context, pool), dtype, device)
    params = sum(p.numel() for p in denoiser.parameters()) / 1e6
    encoder = LatentEncoder(vae, 0.18215)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(args.images, 3, side, side, generator=g) * 2 - 1  # (N, 3, H, W)
    with torch.inference_mode():
        z = torch.cat([encoder(b.to(device)) for b in images.split(8)])  # (N, c, h, w)
    sigmas = np.geomspace(0.05, 10.0, 4)
    extract(denoiser, z[:2], float(sigmas[0]), layers)  # warm-up (kernels, allocator)
    _reset(device)
    _sync(device)
    start = time.perf_counter()
    for sigma in sigmas:
        for block in z.split(FORWARD_ROWS):
            extract(denoiser, block, float(sigma), layers)
    _sync(device)
    ours, ours_peak = len(sigmas) * len(z) / (time.perf_counter() - start), _peak(device)
    _reset(device)
    start = time.perf_counter()
    with torch.inference_mode():
        for sigma in sigmas:  # the baseline: the bare network on the same latents and times
            for block in z.split(FORWARD_ROWS):
                bare(block, float(sigma))
    _sync(device)
    base, base_peak = len(sigmas) * len(z) / (time.perf_counter() - start), _peak(device)
    print(
        f"  {name} ({params:,.1f} M parameters): reprdyn {ours:.1f} img/s (peak "
        f"{ours_peak:.1f} GiB), bare network {base:.1f} img/s (peak {base_peak:.1f} GiB), ratio "
        f"{ours / base:.2f}",
        flush=True,
    )
    del denoiser, bare
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return dict(name=name, params_m=params, images=len(z), sigmas=len(sigmas), layers=len(layers),
                ours_img_s=ours, bare_img_s=base, ratio=ours / base, ours_peak_gib=ours_peak,
                bare_peak_gib=base_peak)  # fmt: skip


def diffusers_vae(cfg: dict, device: str):
    import diffusers

    return diffusers.AutoencoderKL(**cfg).to(device).eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--dtype", default="bfloat16", choices=["float16", "bfloat16", "float32"])
    names = [*BACKBONES, "cifar-ddpm"]
    ap.add_argument("--only", nargs="*", default=names, choices=names)
    ap.add_argument("--cifar-images", type=int, default=50_000)
    ap.add_argument("--smoke", action="store_true", help="tiny configs on the CPU")
    ap.add_argument("--json", default="gpu_backbones.json", help="where the figures go")
    args = ap.parse_args()
    device = "cpu" if args.smoke else "cuda"
    if args.smoke:
        torch.set_num_threads(1)
        args.images, args.dtype = min(args.images, 8), "float32"
        args.cifar_images = min(args.cifar_images, 128)
    elif not torch.cuda.is_available():
        raise SystemExit("no CUDA device; use --smoke to try the script on a CPU")
    where = "CPU (smoke)" if args.smoke else torch.cuda.get_device_name()
    print(f"{where}, torch {torch.__version__}, {args.dtype}, {args.images} images, 4 sigmas")
    results, start = [], time.perf_counter()
    for name in args.only:
        if name == "cifar-ddpm":
            results.append(bench_cifar(args, device))
            continue
        spec = BACKBONES[name]
        if args.smoke:
            family, _, _, _, _, pooled, _ = spec
            spec = _smoke(family, pooled)
        results.append(bench(name, spec, args, device))
    host_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB
    total = time.perf_counter() - start
    print(f"peak host memory {host_gib:.1f} GiB; {total:.0f} s in all")
    with open(args.json, "w") as f:
        json.dump(dict(device=where, smoke=args.smoke, dtype=args.dtype, torch=torch.__version__,
                       machine=platform.machine(), seconds=total, peak_host_gib=host_gib,
                       results=results), f, indent=2)  # fmt: skip
    print(f"wrote {args.json}")


def _smoke(family: str, pooled) -> tuple:
    """A tiny stand-in of a backbone family, with the real one's structure."""
    if family != "sd":
        return family, SMOKE_FLOW[family], 32, 5, 16, 12, SMOKE_LAYERS[family]
    cfg = SMOKE
    if pooled:
        cfg = dict(
            SMOKE, addition_embed_type="text_time", addition_time_embed_dim=4,
            projection_class_embeddings_input_dim=6 * 4 + 12,
        )  # fmt: skip
    return family, cfg, 16, 77, 8, 12 if pooled else None, SMOKE_LAYERS["sd"]


if __name__ == "__main__":
    main()
