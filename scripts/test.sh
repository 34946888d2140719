#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test (ctest).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/deps.sh"
cxflow_install_deps
build="${CXFLOW_BUILD_DIR:-$root/build}"
cxflow_build "$build"
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 600
