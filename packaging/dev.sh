#!/usr/bin/env bash
# One entry point for the README's two commands:
#   packaging/dev.sh studio          set up (Debian 12 packages), build, start gligen-studio
#   packaging/dev.sh test            set up, build, run the whole test suite with ctest (all but `gpu`)
#   packaging/dev.sh test --quick    the same without the `slow` tests (minutes-long subprocess rounds)
#   packaging/dev.sh build           set up and build only
# Each part (setup, configure, build, tests) prints how long it took.
# Which LibTorch (one step, one build folder each), anywhere on the command line:
#   --torch debian   Debian's LibTorch 1.13, CPU (the default), in build/
#   --torch pip      the PyPI torch wheel (2.x; CUDA + NCCL on x86-64 Linux), pip-installed once into
#                    .venv-torch/ and built in build-torch2/; TORCH_PIP_SPEC (default: torch) and
#                    TORCH_PIP_INDEX (e.g. https://download.pytorch.org/whl/cpu for the CPU wheel) choose it
# --no-studio        build and test core + trainer only (no Qt widgets; tests still need Qt Core + Test)
# Environment: BUILD_DIR (default: per --torch), GLIGEN_FIXTURES (default: ../shared/fixtures),
#              JOBS (default: number of cores), GLIGEN_SKIP_SETUP=1 to skip the apt step.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
torch=debian
mode=
quick=0
studio=1
while [ $# -gt 0 ]; do  # the mode, `--torch X`, `--quick` and `--no-studio`, in any order
  case "$1" in
    --torch) torch=${2:-}; shift 2 || shift ;;
    --quick) quick=1; shift ;;
    --no-studio) studio=0; shift ;;
    -*) echo "dev.sh: unknown option '$1' (usage: packaging/dev.sh studio|test [--quick]|build [--torch debian|pip] [--no-studio])" >&2
        exit 2 ;;
    *) mode=$1; shift ;;
  esac
done
jobs=${JOBS:-$(nproc)}

case "$mode:$torch" in
  studio:debian|test:debian|build:debian) build_dir=${BUILD_DIR:-build} ;;
  studio:pip|test:pip|build:pip) build_dir=${BUILD_DIR:-build-torch2} ;;
  *) echo "usage: packaging/dev.sh studio|test [--quick]|build [--torch debian|pip] [--no-studio]" >&2; exit 2 ;;
esac
if [ "$quick" = 1 ] && [ "$mode" != test ]; then
  echo "dev.sh: --quick applies to 'test' only" >&2
  exit 2
fi
if [ "$studio" = 0 ] && [ "$mode" = studio ]; then
  echo "dev.sh: --no-studio builds without the studio, so it cannot start it (drop --no-studio)" >&2
  exit 2
fi

# part NAME COMMAND...: runs a part of the job and prints how long it took.
part() {
  local name=$1 start=$SECONDS status=0
  shift
  "$@" || status=$?
  echo "dev.sh: $name took $((SECONDS - start)) s" >&2
  return $status
}

if [ "${GLIGEN_SKIP_SETUP:-0}" != "1" ]; then
  setup_args=()
  # Without the studio, Qt is still wanted for the tests (Qt Test programs), so only `build` drops it.
  [ "$studio" = 0 ] && [ "$mode" = build ] && setup_args+=(--no-ui)
  [ "$torch" = pip ] && setup_args+=(--pip)
  part "setup" packaging/setup-debian.sh "${setup_args[@]}"
fi

torch_args=()
if [ "$torch" = pip ]; then
  venv=${TORCH_VENV:-$root/.venv-torch}
  if ! "$venv/bin/python" -c 'import torch' >/dev/null 2>&1; then
    python3 -m venv "$venv"
    index=()
    [ -n "${TORCH_PIP_INDEX:-}" ] && index=(--index-url "$TORCH_PIP_INDEX")
    # No pip cache: the CUDA wheels are 3 GB, which would otherwise be kept twice.
    "$venv/bin/pip" install --no-cache-dir "${index[@]}" "${TORCH_PIP_SPEC:-torch}"
  fi
  # The wheel's CMake folder, then its root: TorchConfig's find_library() must find the wheel's
  # lib/ before the system's (Debian's libtorch may be installed too).
  torch_args=(-DCMAKE_PREFIX_PATH="$("$venv/bin/python" -c 'import os, torch; p = torch.utils.cmake_prefix_path; print(p + ";" + os.path.dirname(os.path.dirname(p)))')")
  # A CUDA wheel's CMake files look for the CUDA toolkit (headers; nvcc is not used).
  [ -x /usr/local/cuda/bin/nvcc ] && torch_args+=(-DCUDAToolkit_ROOT=/usr/local/cuda -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
  export PATH="$venv/bin:$PATH"  # torchrun, for the torchrun test
fi

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
ui=$([ "$studio" = 1 ] && echo ON || echo OFF)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  part "configure" cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${torch_args[@]}" \
    -DGLIGEN_BUILD_UI=$ui
elif ! grep -q "^GLIGEN_BUILD_UI:BOOL=$ui\$" "$build_dir/CMakeCache.txt"; then
  part "configure" cmake "$build_dir" -DGLIGEN_BUILD_UI=$ui  # the studio switched on or off in an existing folder
fi
part "build" cmake --build "$build_dir" --parallel "$jobs"

case "$mode" in
  studio)
    exec "$build_dir/app/gligen-studio" ;;
  test)
    fixtures=${GLIGEN_FIXTURES:-$root/../shared/fixtures}
    if [ ! -f "$fixtures/README.md" ]; then
      echo "dev.sh: reference fixtures not found at '$fixtures'." >&2
      echo "        Set GLIGEN_FIXTURES to the fixture root (the folder holding reference/ and tiny-gligen/)." >&2
      exit 1
    fi
    export GLIGEN_FIXTURES="$(cd "$fixtures" && pwd)"
    export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
    cd "$build_dir"
    # `gpu` tests need CUDA and run on a GPU machine (ctest -L gpu); --quick also leaves out the
    # `slow` ones (ctest -L slow runs them alone).
    exclude="gpu"
    [ "$quick" = 1 ] && exclude="gpu|slow"
    part "tests (ctest -LE \"$exclude\")" ctest --output-on-failure --no-tests=error -LE "$exclude" -j "$jobs" ;;
esac
