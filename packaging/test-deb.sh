#!/usr/bin/env bash
# Builds the .deb and checks it the way a user gets it: installed with apt into a clean Debian 12
# root (debootstrap, minbase), then gligen-trainer --version, gligen-studio --version offscreen, one
# generate on a tiny model made by the installed trainer, the desktop entry and icon where desktop
# environments look, and OpenBLAS (not the reference BLAS) as the BLAS the engine gets.
# Usage: packaging/test-deb.sh [BUILD_DIR]   (as root: debootstrap and chroot need it)
# Environment: GLIGEN_DEB_ROOT (default /tmp/gligen-deb-root; removed and made anew),
#              DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$root/build}
chroot_dir=${GLIGEN_DEB_ROOT:-/tmp/gligen-deb-root}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deb.sh: needs root (debootstrap, chroot)." >&2
  exit 1
fi
step() { echo "test-deb.sh: $*" >&2; }
start=$SECONDS

step "building the package"
rm -f "$build_dir"/gligen-studio_*.deb
cmake --build "$build_dir" --target package >/dev/null
deb=$(ls "$build_dir"/gligen-studio_*.deb | head -1)
[ -f "$deb" ] || { echo "test-deb.sh: no .deb in $build_dir" >&2; exit 1; }
step "package $(basename "$deb") ($(du -h "$deb" | cut -f1)); depends: $(dpkg-deb -f "$deb" Depends)"

if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null
fi

cleanup() {
  umount "$chroot_dir/proc" 2>/dev/null || true
  umount "$chroot_dir/dev" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
rm -rf "$chroot_dir"
step "debootstrap bookworm (minbase) into $chroot_dir"
debootstrap --variant=minbase bookworm "$chroot_dir" "$mirror" >/tmp/gligen-debootstrap.log 2>&1 || {
  tail -20 /tmp/gligen-debootstrap.log >&2
  exit 1
}
mount -t proc proc "$chroot_dir/proc"
mount --bind /dev "$chroot_dir/dev"
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf" 2>/dev/null || true
cp "$deb" "$chroot_dir/tmp/gligen-studio.deb"

in_root() { chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
step "apt install ./gligen-studio.deb in the clean root"
in_root apt-get update -q >/dev/null
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/gligen-studio.deb \
  >/tmp/gligen-deb-install.log 2>&1 || {
  tail -30 /tmp/gligen-deb-install.log >&2
  exit 1
}

fail=0
check() {
  local what=$1
  shift
  if "$@"; then step "ok: $what"; else step "FAILED: $what"; fail=1; fi
}
check "gligen-trainer --version" in_root gligen-trainer --version
check "gligen-studio --version (offscreen)" in_root env QT_QPA_PLATFORM=offscreen gligen-studio --version
check "init-model --preset tiny" in_root gligen-trainer init-model --preset tiny --out /tmp/tiny
check "generate on the tiny model" in_root gligen-trainer generate --model /tmp/tiny --prompt "a red circle" \
  --phrase "a red circle" --box 0.1,0.1,0.5,0.5 --steps 2 --seed 1 --out /tmp/out.png
check "generated PNG exists" test -s "$chroot_dir/tmp/out.png"
# The shipped shapes demo model, when the package carries it: the default of generate without --model.
if [ -f "$chroot_dir/usr/share/gligen-studio/models/shapes-demo/model_index.json" ]; then
  check "generate with the installed shapes demo model (no --model)" in_root gligen-trainer generate \
    --prompt "a red circle" --phrase "a red circle" --box 0.1,0.1,0.5,0.5 --seed 1 --out /tmp/shapes.png
  check "shapes PNG exists" test -s "$chroot_dir/tmp/shapes.png"
fi
check "desktop entry in /usr/share/applications" test -f "$chroot_dir/usr/share/applications/gligen-studio.desktop"
check "icon in the hicolor theme" test -f "$chroot_dir/usr/share/icons/hicolor/scalable/apps/gligen-studio.svg"
blas=$(in_root readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
check "libblas.so.3 is OpenBLAS ($blas)" grep -q openblas <<<"$blas"
step "done in $((SECONDS - start)) s"
if [ "$fail" = 0 ]; then
  cleanup
  rm -rf "$chroot_dir"  # kept for inspection when a check failed
fi
exit $fail
