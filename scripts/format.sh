#!/usr/bin/env bash
# Formats every C++ file the project tracks with .clang-format; --check only reports (CI).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h')
if [ "${1:-}" = "--check" ]; then
  if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/cxflow-format.$$; then
    grep -E '^[^ ].*: (error|warning):' /tmp/cxflow-format.$$ | cut -d: -f1 | sort -u | sed 's/^/  not formatted: /' >&2
    rm -f /tmp/cxflow-format.$$
    echo "cxflow: run scripts/format.sh to format these files" >&2
    exit 1
  fi
  rm -f /tmp/cxflow-format.$$
  echo "format: ${#files[@]} files formatted"
else
  clang-format -i "${files[@]}"
fi
