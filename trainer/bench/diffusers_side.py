#!/usr/bin/env python3
"""The diffusers side of the engine benchmark (optional tooling, not part of the product).

Times diffusers' UNet2DConditionModel and AutoencoderKL on the same diffusers model folder and
with the same shapes as `gligen-bench`: a UNet step with the grounding fuser on and off (CFG
batch = 2 x batch, 77 text tokens, N boxes in 30 slots, timestep 501), and a VAE decode; a
warm-up run first, then the median of the timed runs; peak resident memory per size. Prints
one JSON object with the keys gligen-bench uses, so trainer/bench/side_by_side.sh can put the
two next to each other.

Needs diffusers (the fixtures' version, 0.27.2) on the same torch as the engine: on Debian 12,
    /usr/bin/python3 -m venv --system-site-packages VENV   (Debian's python3-torch, LibTorch 1.13)
    VENV/bin/pip install diffusers==0.27.2 "huggingface_hub<0.26"
Against the LibTorch 2.x build (build-torch2/, `packaging/dev.sh build --torch pip`), current
diffusers goes into the same venv as that torch: .venv-torch/bin/pip install diffusers transformers
The text encoder is not run: the UNet is given random text states and phrase embeddings of the
right shapes (the step's cost does not depend on their values).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time


def status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return -1.0


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM back to the current RSS (Linux >= 4.0)
    except OSError:
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="diffusers GLIGEN folder (unet/, vae/)")
    p.add_argument("--sizes", default="256,512", help="comma-separated square image sizes")
    p.add_argument("--steps", type=int, default=3, help="timed UNet steps / VAE decodes (median)")
    p.add_argument("--batch", type=int, default=1, help="images per prompt (UNet batch is twice this)")
    p.add_argument("--boxes", type=int, default=4, help="grounded boxes (of 30 slots)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--parts", default="unet,vae", help="what to time: unet, vae or both")
    p.add_argument("--profile", default="", help="write a per-operator table (torch.profiler) to this file")
    a = p.parse_args()

    import safetensors.torch  # noqa: F401  (diffusers 0.27 calls safetensors.torch without importing it)
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.models.attention import GatedSelfAttentionDense

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    parts = set(a.parts.split(","))
    t0 = time.perf_counter()
    unet = UNet2DConditionModel.from_pretrained(os.path.join(a.model, "unet"), low_cpu_mem_usage=False).eval()
    vae = AutoencoderKL.from_pretrained(os.path.join(a.model, "vae"), low_cpu_mem_usage=False).eval()
    report = {
        "side": "diffusers",
        "diffusers": __import__("diffusers").__version__,
        "torch": torch.__version__,
        "model": a.model,
        "threads": torch.get_num_threads(),
        "unet_batch": 2 * a.batch,
        "load_s": time.perf_counter() - t0,
        "rss_after_load_mib": status_mib("VmRSS:"),
    }
    fusers = [m for m in unet.modules() if isinstance(m, GatedSelfAttentionDense)]
    b2 = 2 * a.batch
    text_dim = unet.config.cross_attention_dim
    pos_len = unet.position_net.positive_len if hasattr(unet, "position_net") and unet.position_net is not None else 768
    enc = torch.randn(b2, 77, text_dim)
    boxes = torch.zeros(b2, 30, 4)
    embs = torch.zeros(b2, 30, pos_len)
    masks = torch.zeros(b2, 30)
    for i in range(a.boxes):
        boxes[:, i] = torch.tensor([0.1 + 0.02 * i, 0.1, 0.5 + 0.02 * i, 0.6])
        embs[:, i] = torch.randn(pos_len)
        masks[a.batch:, i] = 1  # as the pipeline: the unconditional half has no boxes
    kwargs = {"gligen": {"boxes": boxes, "positive_embeddings": embs, "masks": masks}} if fusers else None
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    t = torch.tensor(501)

    def timed(run, profile_title=None):
        """Seconds one call of run() takes; with --profile and a title, traced by torch.profiler and
        its per-operator table appended to the profile file under that title."""
        prof = None
        if a.profile and profile_title:
            prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=False)
            prof.__enter__()
        ts = time.perf_counter()
        run()
        seconds = time.perf_counter() - ts
        if prof is not None:
            prof.__exit__(None, None, None)
            with open(a.profile, "a") as f:
                f.write(f"# {profile_title}\n")
                f.write(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=40))
                f.write("\n")
        return seconds

    sizes = []
    with torch.no_grad():
        for size in [int(s) for s in a.sizes.split(",")]:
            reset_peak_rss()
            entry = {"size": size}
            if "unet" in parts:
                latents = torch.randn(b2, unet.config.in_channels, size // factor, size // factor)
                for fuser in (True, False):
                    for m in fusers:
                        m.enabled = fuser
                    unet(latents, t, encoder_hidden_states=enc, cross_attention_kwargs=kwargs)  # warm-up
                    times = []
                    for s in range(a.steps):
                        title = f"diffusers UNet step, size {size}, fuser on" if fuser and s == 0 else None
                        times.append(timed(
                            lambda: unet(latents, t, encoder_hidden_states=enc, cross_attention_kwargs=kwargs), title))
                    key = "unet_step_fuser_on" if fuser else "unet_step_fuser_off"
                    entry[key + "_ms"] = 1000 * statistics.median(times)
                    entry[key + "_runs_ms"] = [1000 * x for x in times]
                for m in fusers:
                    m.enabled = True
                entry["peak_rss_unet_mib"] = status_mib("VmHWM:")
            if "vae" in parts:
                z = torch.randn(a.batch, vae.config.latent_channels, size // factor, size // factor)
                vae.decode(z)  # warm-up
                times = []
                for s in range(a.steps):
                    times.append(timed(lambda: vae.decode(z), f"diffusers VAE decode, size {size}" if s == 0 else None))
                entry["vae_decode_ms"] = 1000 * statistics.median(times)
                entry["vae_decode_runs_ms"] = [1000 * x for x in times]
                entry["vae_decode_batch"] = a.batch
            entry["peak_rss_mib"] = status_mib("VmHWM:")
            print("diffusers_side: " + json.dumps(entry), file=sys.stderr, flush=True)
            sizes.append(entry)
    report["sizes"] = sizes
    report["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
