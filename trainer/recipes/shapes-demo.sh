#!/usr/bin/env bash
# The shapes demo model, from nothing: the recipe of resources/models/shapes-demo.
#
#   trainer/recipes/shapes-demo.sh [--work DIR] [--out DIR] [--device cpu|cuda] [--unet-stop N]
#
# Stages (each one skipped when its result is there, each training stage resumed from its newest
# checkpoint, so the command can be stopped with Ctrl+C and run again at any point):
#   1. init-model --preset shapes-tiny      random 64x64 model: VAE, UNet, 2-layer CLIP, tokenizer
#   2. make-shapes-dataset                  20000 scenes + 256 held-out layouts, phrases embedded:
#                                           circle, square, triangle in red, green, blue, yellow
#   3. train-vae                            the VAE on the scenes (sets the latent scaling_factor)
#   4. train --trainable unet               the whole UNet on the scenes, grounding included, with
#                                           the shapes hit rate on held-out layouts in events.jsonl
#                                           (--cache-latents: the VAE encodes each scene once;
#                                           the noisiest 30% of the timesteps drawn 3x as often)
#   5. the model folder                     init's text encoder/tokenizer/scheduler + both trained
#                                           parts, and <out>-heldout.json beside it
#   6. shapes-eval                          hit rate on the held-out layouts, and the no-boxes control
# Smaller runs (tests, a quick look): --images N --vae-steps N --unet-steps N --heldout N.
# --unet-stop N: the model gets the UNet of step N of the --unet-steps schedule (train --stop-at-step);
# the shipped model is such a step (README). Run again without it to continue the schedule.
# Environment: GLIGEN_TRAINER (default: gligen-trainer next to this checkout's build, else on PATH),
# THREADS (default: all cores).
set -euo pipefail

WORK=shapes-demo-work
OUT=
DEVICE=cpu
IMAGES=20000
VAE_STEPS=2000
UNET_STEPS=16000
HELDOUT=256
UNET_STOP=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) WORK=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    --images) IMAGES=$2; shift 2 ;;
    --vae-steps) VAE_STEPS=$2; shift 2 ;;
    --unet-steps) UNET_STEPS=$2; shift 2 ;;
    --heldout) HELDOUT=$2; shift 2 ;;
    --unet-stop) UNET_STOP=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "shapes-demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$WORK/model}
# Warm-up, checkpoint and validation intervals follow the run's length (UNet: 800, 250, 500).
every() { local n=$(( $1 / $2 )); echo $(( n > 0 ? n : 1 )); }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=${GLIGEN_TRAINER:-}
if [[ -z "$T" ]]; then
  if [[ -x "$here/../../build/trainer/gligen-trainer" ]]; then T="$here/../../build/trainer/gligen-trainer"
  elif command -v gligen-trainer >/dev/null; then T=gligen-trainer
  else echo "shapes-demo.sh: gligen-trainer not found (build it, or set GLIGEN_TRAINER)" >&2; exit 2; fi
fi
threads=()
[[ -n "${THREADS:-}" ]] && threads=(--threads "$THREADS")

mkdir -p "$WORK"
stage() { printf '\n== %s  (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
start=$(date +%s)

stage "1/6 random shapes-tiny model"
if [[ ! -f "$WORK/init/model_index.json" ]]; then
  rm -rf "$WORK/init"
  "$T" init-model --preset shapes-tiny --seed 0 --out "$WORK/init"
fi

stage "2/6 dataset: $IMAGES scenes, $HELDOUT held-out layouts"
"$T" make-shapes-dataset --out "$WORK/data" --count "$IMAGES" --seed 1 --model "$WORK/init" \
  --colours red,green,blue,yellow --shapes circle,square,triangle \
  --heldout-layouts "$WORK/heldout.json" --heldout-count "$HELDOUT" "${threads[@]}"

stage "3/6 VAE: $VAE_STEPS steps"
if [[ ! -f "$WORK/vae-run/vae/config.json" ]]; then
  "$T" train-vae --pretrained-model "$WORK/init" --image-dir "$WORK/data/images" --output-dir "$WORK/vae-run" \
    --resolution 64 --train-batch-size 16 --max-train-steps "$VAE_STEPS" --learning-rate 2e-3 --lr-scheduler cosine \
    --lr-warmup-steps "$(every "$VAE_STEPS" 20)" --checkpointing-steps "$(every "$VAE_STEPS" 8)" \
    --checkpoints-total-limit 2 --seed 2 --holdout-images "$(( IMAGES < 640 ? IMAGES / 10 : 64 ))" \
    --resume-from-checkpoint latest --device "$DEVICE" "${threads[@]}"
fi
stopped() { echo "shapes-demo.sh: $1 stopped before its last step; run the same command again to resume" >&2; exit 130; }
[[ -f "$WORK/vae-run/vae/config.json" ]] || stopped "the VAE training"

stage "4/6 UNet (from scratch, with grounding): $UNET_STEPS steps${UNET_STOP:+, stopping at $UNET_STOP}"
if [[ ! -f "$WORK/with-vae/model_index.json" ]]; then
  rm -rf "$WORK/with-vae.partial"
  cp -r "$WORK/init" "$WORK/with-vae.partial"
  rm -rf "$WORK/with-vae.partial/vae"
  cp -r "$WORK/vae-run/vae" "$WORK/with-vae.partial/vae"
  mv "$WORK/with-vae.partial" "$WORK/with-vae"
fi
# The step of the UNet folder the last train wrote (its done event), "" when none.
unet_step() {
  [[ -f "$WORK/unet-run/unet/config.json" ]] || return 0
  grep '"kind":"done"' "$WORK/unet-run/events.jsonl" 2>/dev/null | grep -v '"unet":""' | tail -1 |
    grep -o '"step":[0-9]*' | cut -d: -f2
}
WANT_STEP=${UNET_STOP:-$UNET_STEPS}
stop_flag=()
[[ -n "$UNET_STOP" ]] && stop_flag=(--stop-at-step "$UNET_STOP")
if [[ "$(unet_step)" != "$WANT_STEP" ]]; then
  rm -rf "$WORK/unet-run/unet"
  "$T" train --pretrained-model "$WORK/with-vae" --data-path "$WORK/data/shapes.pth" --image-path "$WORK/data" \
    --output-dir "$WORK/unet-run" --trainable unet --resolution 64 --train-batch-size 32 \
    --max-train-steps "$UNET_STEPS" --learning-rate 5e-4 --lr-scheduler cosine \
    --lr-warmup-steps "$(every "$UNET_STEPS" 20)" --checkpointing-steps "$(every "$UNET_STEPS" 64)" \
    --checkpoints-total-limit 2 --seed 3 --cache-latents \
    --timestep-bias-strategy later --timestep-bias-portion 0.3 --timestep-bias-multiplier 3 \
    --validation-steps "$(every "$UNET_STEPS" 32)" --validation-inference-steps 25 --validation-images 4 \
    --shapes-heldout "$WORK/heldout.json" --shapes-heldout-count 32 \
    --resume-from-checkpoint latest --device "$DEVICE" "${stop_flag[@]}" "${threads[@]}"
fi
[[ "$(unet_step)" == "$WANT_STEP" ]] || stopped "the UNet training"

stage "5/6 model folder $OUT"
rm -rf "$OUT.partial"
cp -r "$WORK/with-vae" "$OUT.partial"
rm -rf "$OUT.partial/unet"
cp -r "$WORK/unet-run/unet" "$OUT.partial/unet"
# The init's note says "random weights"; this folder is the trained model. It was trained with its
# fusers on at every step, so it names beta 1 as its own default (0.3 is for a pretrained SD with
# fusers added): generate, shapes-eval and the studio use it where a layout sets no beta.
note="the shapes demo model, trained from scratch by trainer/recipes/shapes-demo.sh (UNet step $WANT_STEP of $UNET_STEPS): 64x64 images; phrase each box like 'a red circle' (circle, square, triangle in red, green, blue, yellow)"
sed -i "s|\"_gligen_studio_note\": \".*\"|\"_gligen_studio_note\": \"$note\",\n  \"_gligen_studio_defaults\": {\"beta\": 1.0}|" \
  "$OUT.partial/model_index.json"
grep -q '"_gligen_studio_defaults"' "$OUT.partial/model_index.json" ||
  { echo "shapes-demo.sh: could not write the model's default beta into $OUT.partial/model_index.json" >&2; exit 1; }
rm -rf "$OUT"
mv "$OUT.partial" "$OUT"
cp "$WORK/heldout.json" "$OUT-heldout.json"

stage "6/6 grounding check on the held-out layouts"
"$T" shapes-eval --model "$OUT" --layouts "$OUT-heldout.json" --no-boxes-control \
  --out "$WORK/eval" "${threads[@]}"

printf '\nshapes demo model: %s (%d min)\n' "$OUT" $(( ($(date +%s) - start) / 60 ))
