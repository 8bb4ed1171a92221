#!/usr/bin/env python3
"""Optional tooling (not part of the product): does a GLIGEN model use the *place* of its boxes?

Takes training images with their boxes (a make-shapes-dataset folder, or any seed .pth list with
an image root), noises their latents at a few timesteps and asks the UNet for the clean latents
(x0, from its epsilon or velocity prediction, as its scheduler config says) five ways: with the
true boxes, the boxes mirrored left-right, mirrored top-bottom, another image's boxes and
phrases, and no boxes. A model that places objects by their boxes predicts x0 best with the true boxes; equal
errors for true and mirrored boxes mean the boxes only tell it what to draw, not where.

    python3 trainer/recipes/box_position_probe.py --model MODEL_DIR \
        --data shapes-work/data/shapes.pth --images shapes-work/data [--count 64]

A training checkpoint is probed by copying the model folder and putting the checkpoint's
trainable.safetensors in as unet/diffusion_pytorch_model.safetensors (--trainable unet runs hold
every UNet weight). Needs diffusers (0.27.x) and Pillow, e.g. in a venv over Debian's python3-torch.
"""
import argparse

import numpy as np
import torch
from PIL import Image
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="diffusers GLIGEN folder")
    ap.add_argument("--data", required=True, help="seed .pth record list")
    ap.add_argument("--images", required=True, help="folder the records' file_path are relative to")
    ap.add_argument("--count", type=int, default=64, help="records probed (the last N of the list)")
    ap.add_argument("--timesteps", default="900,700,500,200")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet").eval()
    vae = AutoencoderKL.from_pretrained(args.model, subfolder="vae").eval()
    text_encoder = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder").eval()
    tokenizer = CLIPTokenizer.from_pretrained(args.model, subfolder="tokenizer")
    schedule = DDPMScheduler.from_pretrained(args.model, subfolder="scheduler")
    velocity = schedule.config.prediction_type == "v_prediction"

    records = torch.load(args.data)[-args.count:]
    n = len(records)
    size = unet.config.sample_size * 2 ** (len(vae.config.block_out_channels) - 1)
    max_boxes = max(len(r["annos"]) for r in records)
    pixels, boxes, masks, embeddings = [], torch.zeros(n, max_boxes, 4), torch.zeros(n, max_boxes), None
    for i, r in enumerate(records):
        image = Image.open(f"{args.images}/{r['file_path']}").convert("RGB")
        if image.size != (size, size):
            raise SystemExit(f"{r['file_path']} is {image.size[0]}x{image.size[1]}; the model makes {size}x{size}")
        pixels.append(torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 127.5 - 1)
        for k, a in enumerate(r["annos"]):
            e = torch.tensor(a["text_embeddings_before_projection"], dtype=torch.float32)
            if embeddings is None:
                embeddings = torch.zeros(n, max_boxes, e.numel())
            boxes[i, k] = torch.tensor(a["bbox"], dtype=torch.float32) / size
            masks[i, k] = 1
            embeddings[i, k] = e
    mirrored_x = torch.stack([1 - boxes[..., 2], boxes[..., 1], 1 - boxes[..., 0], boxes[..., 3]], -1) * masks[..., None]
    mirrored_y = torch.stack([boxes[..., 0], 1 - boxes[..., 3], boxes[..., 2], 1 - boxes[..., 1]], -1) * masks[..., None]
    other = torch.roll(torch.arange(n), 1)

    with torch.no_grad():
        latents = vae.encode(torch.stack(pixels)).latent_dist.mean * vae.config.scaling_factor
        ids = tokenizer([""] * n, padding="max_length", max_length=tokenizer.model_max_length,
                        return_tensors="pt").input_ids
        context = text_encoder(ids)[0]
        generator = torch.Generator().manual_seed(args.seed)
        print(f"x0 mean squared error over {n} images ({'velocity' if velocity else 'noise'} prediction); "
              "lower is better")
        print("timestep |  true boxes |  mirrored x |  mirrored y | other image |    no boxes")
        for t in [int(v) for v in args.timesteps.split(",")]:
            noise = torch.randn(latents.shape, generator=generator)
            ts = torch.full((n,), t, dtype=torch.long)
            noisy = schedule.add_noise(latents, noise, ts)
            a = schedule.alphas_cumprod[t]

            def x0_error(b, m, e=embeddings):
                out = unet(noisy, ts, context,
                           cross_attention_kwargs={"gligen": {"boxes": b, "positive_embeddings": e, "masks": m}}).sample
                x0 = a.sqrt() * noisy - (1 - a).sqrt() * out if velocity else (noisy - (1 - a).sqrt() * out) / a.sqrt()
                return ((x0 - latents) ** 2).mean().item()

            row = [x0_error(boxes, masks), x0_error(mirrored_x, masks), x0_error(mirrored_y, masks),
                   x0_error(boxes[other], masks[other], embeddings[other]),
                   x0_error(boxes, masks * 0)]
            print(f"{t:8d} | " + " | ".join(f"{v:11.4f}" for v in row))


if __name__ == "__main__":
    main()
