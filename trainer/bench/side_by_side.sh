#!/usr/bin/env bash
# Engine against diffusers, side by side in one run on this machine (optional tooling).
#   trainer/bench/side_by_side.sh --model DIR [--sizes 256,512] [--steps 5] [--threads 2]
#                                 [--rounds 1] [--batch 1] [--boxes 4]
# Each round runs gligen-bench (weights released after use, as the pipeline does),
# gligen-bench --keep-weights and trainer/bench/diffusers_side.py one after the other with the
# same model, shapes and thread count, then prints the medians (of all timed runs of all rounds;
# memory: of the rounds) and the ratios ours / diffusers (below 1: we are faster). Raw JSON goes to $OUT_DIR (default /tmp/side-by-side).
# Environment: BENCH (default build/trainer/gligen-bench), PYTHON (a python with diffusers 0.27.2
# on the same torch, default /work/venv-diffusers/bin/python; see diffusers_side.py for setup).
# LibTorch 2.x: BENCH=build-torch2/trainer/gligen-bench PYTHON=.venv-torch/bin/python (current
# diffusers installed into the venv that holds the build's torch).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench=${BENCH:-$root/build/trainer/gligen-bench}
python=${PYTHON:-/work/venv-diffusers/bin/python}
out=${OUT_DIR:-/tmp/side-by-side}
model= sizes=256,512 steps=5 threads=2 rounds=1 batch=1 boxes=4
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --boxes) boxes=$2; shift 2 ;;
    *) echo "side_by_side.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] || { echo "side_by_side.sh: --model DIR is required (e.g. gligen-trainer init-model --preset sd14 --out /tmp/sd14)" >&2; exit 2; }
[ -x "$bench" ] || { echo "side_by_side.sh: $bench not built (ninja -C build gligen-bench)" >&2; exit 2; }
"$python" -c 'import diffusers' 2>/dev/null || {
  echo "side_by_side.sh: $python has no diffusers; see trainer/bench/diffusers_side.py for the setup" >&2; exit 2; }
mkdir -p "$out"
rm -f "$out"/*.json
common=(--model "$model" --sizes "$sizes" --steps "$steps" --threads "$threads" --batch "$batch" --boxes "$boxes")
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: gligen-bench" >&2
  "$bench" "${common[@]}" > "$out/ours-release-$r.json"
  echo "round $r/$rounds: gligen-bench --keep-weights" >&2
  "$bench" "${common[@]}" --keep-weights > "$out/ours-keep-$r.json"
  echo "round $r/$rounds: diffusers" >&2
  "$python" "$root/trainer/bench/diffusers_side.py" "${common[@]}" > "$out/diffusers-$r.json"
done
"$python" - "$out" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]
def load(kind):
    runs = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/{kind}-*.json"))]
    table = {}
    for run in runs:
        for e in run["sizes"]:
            for k, v in e.items():
                if k == "size" or k.endswith("_runs_ms"):
                    continue
                runs_key = k[:-3] + "_runs_ms"
                # Timings: every timed run of every round pooled; memory: one value per round.
                table.setdefault((e["size"], k), []).extend(e[runs_key] if runs_key in e else [v])
    return {k: statistics.median(v) for k, v in table.items()}, runs[0]
ours, meta = load("ours-release")
keep, _ = load("ours-keep")
diff, dmeta = load("diffusers")
print(f"# {meta['model']}: threads {meta['threads']} (diffusers {dmeta['threads']}), UNet batch {meta['unet_batch']}, "
      f"diffusers {dmeta['diffusers']} on torch {dmeta['torch']}")
print("| size | measure | diffusers | ours (release) | ratio | ours (--keep-weights) | ratio |")
print("|---|---|---|---|---|---|---|")
for size in sorted({s for s, _ in diff}):
    for key, label, scale, unit in [("unet_step_fuser_on_ms", "UNet step, fuser on", 1e-3, "s"),
                                     ("unet_step_fuser_off_ms", "UNet step, fuser off", 1e-3, "s"),
                                     ("vae_decode_ms", "VAE decode", 1e-3, "s"),
                                     ("peak_rss_mib", "peak RSS", 1 / 1024, "GiB")]:
        d, o, k = diff.get((size, key)), ours.get((size, key)), keep.get((size, key))
        if d is None or o is None or k is None:
            continue
        print(f"| {size} | {label} | {d*scale:.2f} {unit} | {o*scale:.2f} {unit} | {o/d:.2f} | {k*scale:.2f} {unit} | {k/d:.2f} |")
PY
