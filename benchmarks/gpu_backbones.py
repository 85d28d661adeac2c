"""Throughput and peak memory of the Stable Diffusion backbones reprdyn probes, on a GPU, with
random weights in each model's real configuration (no download): for a session lent a device.

    python benchmarks/gpu_backbones.py [--images 256] [--dtype float16]
    python benchmarks/gpu_backbones.py --smoke        # tiny configs on the CPU: does it run?

For each backbone it encodes `--images` random images with the autoencoder (float32), then at
four sigmas runs reprdyn's own extraction (the VP wrapper, the prompt conditioning, hooks on a
mid and an up block, pooling) and, as the baseline measured in the same run, the bare UNet
forward on the same latents. It prints images per second for both, their ratio (reprdyn's
overhead), and the peak GPU memory of each.
"""

from __future__ import annotations

import argparse
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
BACKBONES = {  # name -> (UNet config, image side, text width, pooled width)
    "sd-2.1": (SD21_UNET, 512, 1024, None),
    "sdxl-base-1.0": (SDXL_UNET, 1024, 2048, 1280),
}
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


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak(device: str) -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")


def _reset(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def bench(name: str, cfg: dict, side: int, text: int, pooled, args, device: str) -> None:
    import diffusers
    import numpy as np

    from reprdyn.extract import FORWARD_ROWS, extract
    from reprdyn.models.pretrained import LatentEncoder, pretrained_vp
    from reprdyn.models.stable_diffusion import ConditionedNet

    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(**cfg).to(device, dtype).eval()
    vae_cfg = SMOKE_VAE if args.smoke else VAE
    vae = diffusers.AutoencoderKL(**vae_cfg).to(device).eval()  # float32, as reprdyn keeps it
    sched = diffusers.DDPMScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012
    )  # SD's schedule
    context = torch.zeros(1, 77, text, device=device)
    pool = torch.zeros(1, pooled, device=device) if pooled else None
    scale = 2 ** (len(vae_cfg["block_out_channels"]) - 1)
    abar = sched.alphas_cumprod.double().numpy()
    denoiser = pretrained_vp(
        unet, abar, "epsilon", ConditionedNet, context=context, pooled=pool, vae_scale=scale
    ).to(device)  # as kind: sd builds it
    schedule = denoiser.schedule
    encoder = LatentEncoder(vae, 0.18215)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(args.images, 3, side, side, generator=g) * 2 - 1  # (N, 3, H, W)
    with torch.inference_mode():
        z = torch.cat([encoder(b.to(device)) for b in images.split(8)])  # (N, 4, h, w)
    layers = ["mid_block", "up_blocks.1"]
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
        for sigma in sigmas:  # the baseline: the bare UNet on the same latents and timesteps
            t = torch.tensor(float(schedule.timestep(np.array([sigma]))[0]), device=device)
            for block in z.split(FORWARD_ROWS):
                B = len(block)
                kw = {"encoder_hidden_states": context.expand(B, -1, -1).to(dtype)}
                if pool is not None:
                    ids = torch.tensor([side, side, 0, 0, side, side], device=device, dtype=dtype)
                    kw["added_cond_kwargs"] = {
                        "text_embeds": pool.expand(B, -1).to(dtype),
                        "time_ids": ids.expand(B, 6),
                    }
                unet(block.to(dtype), t, **kw)
    _sync(device)
    base, base_peak = len(sigmas) * len(z) / (time.perf_counter() - start), _peak(device)
    print(
        f"  {name}: reprdyn {ours:.1f} img/s (peak {ours_peak:.1f} GiB), bare UNet {base:.1f} "
        f"img/s (peak {base_peak:.1f} GiB), ratio {ours / base:.2f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    ap.add_argument("--only", nargs="*", default=list(BACKBONES))
    ap.add_argument("--smoke", action="store_true", help="tiny configs on the CPU")
    args = ap.parse_args()
    device = "cpu" if args.smoke else "cuda"
    if args.smoke:
        torch.set_num_threads(1)
        args.images, args.dtype = min(args.images, 8), "float32"
    elif not torch.cuda.is_available():
        raise SystemExit("no CUDA device; use --smoke to try the script on a CPU")
    where = "CPU (smoke)" if args.smoke else torch.cuda.get_device_name()
    print(f"{where}, torch {torch.__version__}, {args.dtype}, {args.images} images, 4 sigmas")
    for name in args.only:
        cfg, side, text, pooled = BACKBONES[name]
        if args.smoke:
            cfg, side, text = SMOKE, 16, 8
            if pooled:
                cfg = dict(
                    SMOKE, addition_embed_type="text_time", addition_time_embed_dim=4,
                    projection_class_embeddings_input_dim=6 * 4 + 12,
                )  # fmt: skip
                pooled = 12
        bench(name, cfg, side, text, pooled, args, device)


if __name__ == "__main__":
    main()
