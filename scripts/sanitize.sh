#!/usr/bin/env bash
# Builds the host and every plugin with AddressSanitizer + UBSan (+ LeakSanitizer) in build-asan
# and runs the conformance test (every plugin: load, describe, configure its example, start, stop,
# destroy), the runtime tests and the default pipeline under it. Not part of scripts/test.sh: it
# doubles the build. Sanitized plugins carry "asan" in their build key, so only a sanitized host
# loads them.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/deps.sh"
cxflow_install_deps
build="${CXFLOW_ASAN_BUILD_DIR:-$root/build-asan}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCXFLOW_SANITIZE=ON -DCXFLOW_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
fi
plugins=$(cd "$root/plugins" && for d in */; do [ -f "$d/CMakeLists.txt" ] && echo "${d%/}"; done)
cmake --build "$build" -j "$(nproc)" --target cxflow cxflow_testing $plugins test-source test-sink test-transform \
  host_conformance_tests/fast host_runtime_tests/fast
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$build/bin/host_conformance_tests"
"$build/bin/host_runtime_tests"
db=$(mktemp -d)/demo.db
CXFLOW_SPEED=max CXFLOW_DB="$db" "$build/bin/cxflow" run "$root/pipelines/simulated.yaml" --no-status --log-level warn
echo "sanitized conformance, runtime tests and the default pipeline: clean"
