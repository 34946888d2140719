#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/CMakeLists.txt) for SECONDS each (default 60) in a separate
# clang build, build-fuzz/, instrumented with -fsanitize=fuzzer,address,undefined.
#
#   scripts/fuzz.sh [SECONDS] [NAME...]      e.g. scripts/fuzz.sh 600 json_events
#
# Each fuzzer starts from its seed corpus fuzz/corpus/<name>/ (read only) and its found crashes
# fuzz/crashes/<name>/, and grows a working corpus in build-fuzz/corpus/<name>/ (kept between
# runs). A crash, leak, sanitizer report or timeout leaves its input in build-fuzz/artifacts/<name>/
# and makes the script fail; fix it, then copy the input to fuzz/crashes/<name>/ so that the
# ctest case fuzz.<name> of the normal build replays it forever. Prints executions per target.
# Environment: CXFLOW_FUZZ_BUILD_DIR (default build-fuzz), CXFLOW_FUZZ_JOBS (parallel fuzzers,
# default 1), CXFLOW_FUZZ_ARGS (extra libFuzzer flags, e.g. "-max_len=65536").
# Needs clang (Debian package `clang`, installed here if missing); the normal build does not.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
shift || true
case "$seconds" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [NAME...]" >&2; exit 2 ;; esac
source "$root/scripts/deps.sh"
cxflow_install_deps
CXFLOW_APT_PACKAGES=(clang)
cxflow_install_deps  # clang: for this script only

build="${CXFLOW_FUZZ_BUILD_DIR:-$root/build-fuzz}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCXFLOW_FUZZ=ON \
    -DCXFLOW_BUILD_TESTS=OFF -DCXFLOW_BUILD_BENCH=OFF -DCXFLOW_MIMALLOC=OFF
else
  cmake "$build" >/dev/null
fi
[ -f "$build/fuzzers.txt" ] || { echo "fuzz.sh: $build/fuzzers.txt missing (configure failed?)" >&2; exit 1; }

selected=()
while read -r name exe corpus crashes; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ]; then
    keep=0
    for want in "$@"; do [ "$want" = "$name" ] && keep=1; done
    [ $keep = 1 ] || continue
  fi
  selected+=("$name|$exe|$corpus|$crashes")
done <"$build/fuzzers.txt"
[ ${#selected[@]} -gt 0 ] || { echo "fuzz.sh: no fuzzer matches: $*" >&2; exit 2; }

targets=()
for s in "${selected[@]}"; do targets+=("fuzz_${s%%|*}"); done
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_one() {
  local name=$1 exe=$2 corpus=$3 crashes=$4
  local work="$build/corpus/$name" artifacts="$build/artifacts/$name/" log="$build/logs/$name.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  local dict=()
  [ -f "$root/fuzz/$name.dict" ] && dict=("-dict=$root/fuzz/$name.dict")
  local seeds=("$corpus")
  [ -d "$crashes" ] && seeds+=("$crashes")
  local rc=0
  # shellcheck disable=SC2086
  "$exe" "$work" "${seeds[@]}" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" ${CXFLOW_FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  local files
  files=$(find "$work" -type f | wc -l)
  if [ $rc -ne 0 ]; then
    echo "FAIL $name: exit $rc after ${execs:-?} executions; input in $artifacts, log $log"
    grep -m3 -E "ERROR: |SUMMARY: |runtime error" "$log" || true
    return 1
  fi
  echo "ok   $name: ${execs:-?} executions in ${seconds}s, corpus $files files, no crash (log $log)"
}

failed=0
jobs=${CXFLOW_FUZZ_JOBS:-1}
if [ "$jobs" -le 1 ]; then
  for s in "${selected[@]}"; do
    IFS='|' read -r name exe corpus crashes <<<"$s"
    run_one "$name" "$exe" "$corpus" "$crashes" || failed=1
  done
else
  pids=()
  for s in "${selected[@]}"; do
    IFS='|' read -r name exe corpus crashes <<<"$s"
    run_one "$name" "$exe" "$corpus" "$crashes" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
fi
exit $failed
