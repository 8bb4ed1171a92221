#!/usr/bin/env python3
"""Optional tooling (not part of the product): load a model folder written by our trainer, e.g. the
shipped shapes demo model, with diffusers' StableDiffusionGLIGENPipeline, generate one layout and
compare the picture with `gligen-trainer generate`'s of the same layout and seed.

    python3 trainer/recipes/diffusers_check.py --model resources/models/shapes-demo \
        --ours build/red-circle.png --out diffusers.png

--ours is a PNG written by `gligen-trainer generate` (its layout is read from the PNG's
gligen-layout text chunk); without it, --prompt/--phrase/--box/--seed/--steps/--beta describe the
layout. Needs diffusers (0.27.x) and Pillow, e.g. in a venv over Debian's python3-torch.
"""
import argparse
import json
import sys

import numpy as np
import safetensors.torch  # noqa: F401  (diffusers looks for safetensors.torch)
import torch
from PIL import Image
from diffusers import StableDiffusionGLIGENPipeline


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ours", help="PNG from gligen-trainer generate (its layout is used)")
    ap.add_argument("--prompt", default="a red circle and a blue square")
    ap.add_argument("--phrase", action="append", default=[])
    ap.add_argument("--box", action="append", default=[], help="x0,y0,x1,y1 in [0, 1]")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--beta", type=float, default=None,
                    help="default: the model's own (model_index.json's _gligen_studio_defaults), else 0.3")
    ap.add_argument("--out", default="diffusers.png")
    a = ap.parse_args()
    if a.beta is None:
        with open(f"{a.model}/model_index.json") as f:
            a.beta = json.load(f).get("_gligen_studio_defaults", {}).get("beta", 0.3)

    layout = {"prompt": a.prompt, "phrases": a.phrase, "boxes": [[float(v) for v in b.split(",")] for b in a.box],
              "seed": a.seed, "steps": a.steps, "guidance": a.guidance, "beta": a.beta, "negative_prompt": ""}
    if a.ours:
        text = Image.open(a.ours).text
        if "gligen-layout" not in text:
            sys.exit(f"{a.ours} has no gligen-layout text chunk (write it with gligen-trainer generate)")
        layout = json.loads(text["gligen-layout"])  # the layout as run: seed, size and beta resolved
    if layout.get("scheduler") not in (None, "", "pndm"):
        print("note: the layout names scheduler", layout["scheduler"], "- diffusers uses the folder's")

    torch.set_num_threads(2)
    pipe = StableDiffusionGLIGENPipeline.from_pretrained(a.model, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    g = torch.Generator("cpu").manual_seed(layout["seed"])
    out = pipe(prompt=layout["prompt"], negative_prompt=layout.get("negative_prompt") or None,
               gligen_phrases=layout["phrases"], gligen_boxes=layout["boxes"],
               gligen_scheduled_sampling_beta=layout["beta"], num_inference_steps=layout["steps"],
               guidance_scale=layout["guidance"], height=layout.get("height") or size, width=layout.get("width") or size,
               generator=g, output_type="np")
    img = (out.images[0] * 255).round().astype(np.uint8)
    Image.fromarray(img).save(a.out)
    print("diffusers image:", a.out, img.shape)
    if a.ours:
        ours = np.asarray(Image.open(a.ours).convert("RGB")).astype(int)
        d = np.abs(ours - img.astype(int))
        print(f"ours vs diffusers: max |diff| {d.max()} of 255, mean {d.mean():.3f}")


if __name__ == "__main__":
    main()
