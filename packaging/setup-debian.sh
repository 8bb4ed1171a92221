#!/usr/bin/env bash
# Installs everything GLIGEN Studio needs to build, test and run on Debian 12, from Debian's
# own apt repositories. Idempotent: packages already present are left as they are.
# Usage: packaging/setup-debian.sh [--no-ui] [--pip]   (run as root, or as a user with sudo)
#   --no-ui  core + trainer only (no Qt)
#   --pip    also python3-venv and python3-pip, for building against PyPI's torch (dev.sh --torch pip)
set -euo pipefail

want_ui=1
want_pip=0
for arg in "$@"; do
  case "$arg" in
    --no-ui) want_ui=0 ;;
    --pip) want_pip=1 ;;
    -h|--help)
      echo "usage: $0 [--no-ui] [--pip]"
      echo "Installs the Debian 12 packages needed to build GLIGEN Studio (use --no-ui for core + trainer only;"
      echo "--pip adds python3-venv and python3-pip for the PyPI torch build, packaging/dev.sh --torch pip)."
      exit 0 ;;
    *) echo "setup-debian.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "setup-debian.sh: needs root to install packages; run it as root or install sudo." >&2
  exit 1
fi

packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  libtorch-dev libgloo-dev libopenblas0-openmp
  libopencv-dev nlohmann-json3-dev libsqlite3-dev libutf8proc-dev libsentencepiece-dev zlib1g-dev libpng-dev
)
if [ "$want_ui" -eq 1 ]; then
  packages+=(qt6-base-dev libqcustomplot-dev libgl-dev xvfb xauth)
fi
if [ "$want_pip" -eq 1 ]; then
  packages+=(python3-venv python3-pip)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-debian.sh: all ${#packages[@]} packages are already installed."
  exit 0
fi

echo "setup-debian.sh: installing ${#missing[@]} Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup-debian.sh: done."
