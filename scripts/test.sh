#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test (ctest).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/deps.sh"
cxflow_install_deps
build="${CXFLOW_BUILD_DIR:-$root/build}"
# -Werror on: the project's own test builds fail on any warning in its code.
cxflow_build "$build" -DCXFLOW_WERROR=ON
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 600
