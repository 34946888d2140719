#!/usr/bin/env bash
# Installs what is missing, builds if needed, and runs the default simulated pipeline.
# Usage: scripts/run-demo.sh [PIPELINE.yaml]   (default pipelines/simulated.yaml)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/deps.sh"
cxflow_install_deps
build="${CXFLOW_BUILD_DIR:-$root/build}"
cxflow_build "$build" >&2
# Runs in the caller's folder: the pipeline's database (cxone_analytics.db) is written there.
exec "$build/bin/cxflow" run "${1:-$root/pipelines/simulated.yaml}"
