#!/usr/bin/env bash
# One entry point for the README's two commands:
#   packaging/dev.sh studio   set up (Debian 12 packages), build, start gligen-studio
#   packaging/dev.sh test     set up, build, run the whole test suite with ctest
#   packaging/dev.sh build    set up and build only
# Environment: BUILD_DIR (default: build), GLIGEN_FIXTURES (default: ../shared/fixtures),
#              JOBS (default: number of cores), GLIGEN_SKIP_SETUP=1 to skip the apt step.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
mode=${1:-}

case "$mode" in
  studio|test|build) ;;
  *) echo "usage: packaging/dev.sh studio|test|build" >&2; exit 2 ;;
esac

if [ "${GLIGEN_SKIP_SETUP:-0}" != "1" ]; then
  packaging/setup-debian.sh
fi

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build_dir" --parallel "$jobs"

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
    # gpu-labelled tests need CUDA; slow ones run with `ctest -L slow`.
    ctest --output-on-failure --no-tests=error -LE "gpu|slow" -j "$jobs" ;;
esac
