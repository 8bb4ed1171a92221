#!/usr/bin/env bash
# Checks that every tracked C++ source follows the house style (.clang-format at the root).
# Usage: packaging/check-format.sh          list the files clang-format would change (exit 1 if any)
#        packaging/check-format.sh --fix    reformat them in place
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "check-format.sh: clang-format is not installed (packaging/setup-debian.sh installs it)." >&2
  exit 2
fi
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh')
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  echo "check-format.sh: formatted ${#files[@]} files."
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ "${#bad[@]}" -gt 0 ]; then
  echo "check-format.sh: ${#bad[@]} of ${#files[@]} files are not in the house style:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "Run packaging/check-format.sh --fix (or clang-format -i FILE) and commit the result." >&2
  exit 1
fi
echo "check-format.sh: all ${#files[@]} C++ files follow .clang-format ($(clang-format --version | sed 's/.*version //'))."
