#!/usr/bin/env bash
# One entry point for the README's two commands:
#   packaging/dev.sh studio          set up (Debian 12 packages), build, start gligen-studio
#   packaging/dev.sh test            set up, build, run the whole test suite with ctest (all but `gpu`)
#   packaging/dev.sh test --quick    the same without the `slow` tests (minutes-long subprocess rounds)
#   packaging/dev.sh build           set up and build only
# Each part (setup, configure, build, tests) prints how long it took.
# Environment: BUILD_DIR (default: build), GLIGEN_FIXTURES (default: ../shared/fixtures),
#              JOBS (default: number of cores), GLIGEN_SKIP_SETUP=1 to skip the apt step.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
mode=${1:-}
[ $# -gt 0 ] && shift
quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "dev.sh: unknown option '$arg' (usage: packaging/dev.sh studio|test [--quick]|build)" >&2; exit 2 ;;
  esac
done

case "$mode" in
  studio|test|build) ;;
  *) echo "usage: packaging/dev.sh studio|test [--quick]|build" >&2; exit 2 ;;
esac
if [ "$quick" = 1 ] && [ "$mode" != test ]; then
  echo "dev.sh: --quick applies to 'test' only" >&2
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
  part "setup" packaging/setup-debian.sh
fi

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  part "configure" cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
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
