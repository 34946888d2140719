#!/usr/bin/env bash
# cxflow benchmark suite: see docs/PERFORMANCE.md.
#
#   bench/run.sh                  # everything: 1M and 10M events, 3 rounds each
#   SIZES=1000000 ROUNDS=1 bench/run.sh    # a quick pass
#
# Environment:
#   BUILD_DIR   build tree (default: <repo>/build-bench; configured with -DCXFLOW_BUILD_BENCH=ON if new)
#   BENCH_DIR   where event files and databases go (default: ${TMPDIR:-/tmp}/cxflow-bench); event
#               files are reused when present (10M events = 2.3 GB)
#   SIZES       event counts for the replay comparison (default: "1000000 10000000")
#   ROUNDS      rounds per size; baseline and cxflow run back to back, alternating (default: 3)
#   REPLAY_PIPELINE  the cxflow pipeline (default bench/pipelines/replay-bench.yaml; the variant with
#               the filter pushed into the source: bench/pipelines/replay-prefilter-bench.yaml)
#   JSON_EVENTS lines for cxflow-json-bench (default: 1000000)
#   SKIP        space-separated parts to skip: replay simulated json
#
# Wall time and peak RSS come from GNU time (/usr/bin/time -f "%e %M"); the medians are reported.
# Nothing here asserts a time: the figures are printed, compared with the targets, and that's all.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
data=${BENCH_DIR:-${TMPDIR:-/tmp}/cxflow-bench}
sizes=${SIZES:-"1000000 10000000"}
rounds=${ROUNDS:-3}
json_events=${JSON_EVENTS:-1000000}
skip=" ${SKIP:-} "

log() { printf '%s\n' "$*" >&2; }

# --- tools ---------------------------------------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
  log "bench: installing GNU time (package 'time')"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      log "bench: need root (or sudo) to install the 'time' package"; exit 1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends time
fi

# --- build ---------------------------------------------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCXFLOW_BUILD_BENCH=ON -DCXFLOW_BUILD_TESTS=OFF >&2
fi
cmake --build "$build" -j "$(nproc)" --target cxflow source-replay source-simulator filter-interaction \
  aggregate-window sink-sqlite cxflow-gen-events cxflow-baseline cxflow-json-bench >&2
bin=$build/bin
mkdir -p "$data"

# --- helpers -------------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timed OUT_PREFIX CMD...: runs CMD under GNU time; stderr in OUT_PREFIX.err and
# "wall_s peak_rss_kb user_s sys_s" in OUT_PREFIX.time
timed() {
  local out=$1
  shift
  if ! /usr/bin/time -o "$out.time" -f "%e %M %U %S" "$@" >"$out.out" 2>"$out.err"; then
    log "bench: FAILED: $*"
    tail -20 "$out.err" >&2
    return 1
  fi
}

human() { awk -v n="$1" 'BEGIN { if (n >= 1e6) printf "%.0fM", n / 1e6; else if (n >= 1e3) printf "%.0fk", n / 1e3; else print n }'; }

# --- replay: baseline vs cxflow --------------------------------------------------------------------
declare -A result
if [[ $skip != *" replay "* ]]; then
  for n in $sizes; do
    in=$data/events-$n.jsonl
    if [ ! -s "$in" ]; then
      log "bench: generating $n events -> $in"
      "$bin/cxflow-gen-events" "$n" "$in.tmp" --seed 42
      mv "$in.tmp" "$in"
    fi
    cat "$in" >/dev/null  # warm the page cache so that round 1 is not the only cold one
    : >"$data/times-base-$n" ; : >"$data/times-cx-$n"
    for r in $(seq 1 "$rounds"); do
      for who in base cx; do
        db=$data/out-$who-$n.db
        rm -f "$db" "$db-wal" "$db-shm"
        if [ $who = base ]; then
          timed "$data/run-$who-$n" "$bin/cxflow-baseline" "$in" "$db"
        else
          timed "$data/run-$who-$n" env BENCH_IN="$in" BENCH_DB="$db" \
            "$bin/cxflow" run "${REPLAY_PIPELINE:-$root/bench/pipelines/replay-bench.yaml}" --no-status
        fi
        cat "$data/run-$who-$n.time" >>"$data/times-$who-$n"
        log "bench: $(human "$n") round $r $who: $(awk '{ printf "%s s wall, %.1f MB peak RSS, %.2f s CPU", $1, $2 / 1024, $3 + $4 }' "$data/run-$who-$n.time")"
      done
    done
    for who in base cx; do
      result[$who,$n,secs]=$(cut -d' ' -f1 "$data/times-$who-$n" | median)
      result[$who,$n,kb]=$(cut -d' ' -f2 "$data/times-$who-$n" | median)
      result[$who,$n,cpu]=$(awk '{ print $3 + $4 }' "$data/times-$who-$n" | median)
    done
    # Same answer? Compare the two databases row by row (rounded, both computed in double).
    q="SELECT window_start, queue, contacts, round(avg_handle_time, 6), round(avg_wait_time, 6), round(service_level, 6) FROM queue_minutes ORDER BY 1, 2"
    if command -v sqlite3 >/dev/null 2>&1; then
      rows_b=$(sqlite3 "$data/out-base-$n.db" "SELECT count(*) FROM queue_minutes")
      rows_c=$(sqlite3 "$data/out-cx-$n.db" "SELECT count(*) FROM queue_minutes")
      if diff <(sqlite3 "$data/out-base-$n.db" "$q") <(sqlite3 "$data/out-cx-$n.db" "$q") >/dev/null; then
        result[same,$n]="yes ($rows_b rows)"
      else
        result[same,$n]="NO: baseline $rows_b rows, cxflow $rows_c rows (diff the two databases in $data)"
      fi
    else
      result[same,$n]="not checked (no sqlite3)"
    fi
    sed -n "s/.*\] summary: /cxflow $(human "$n") last round: summary: /p" "$data/run-cx-$n.err" >&2
  done
fi

# --- simulated pipeline ----------------------------------------------------------------------------
sim_line=""
if [[ $skip != *" simulated "* ]]; then
  if [ -f "$root/pipelines/simulated.yaml" ]; then
    sim_pipeline=$root/pipelines/simulated.yaml
    # The host has no flag to override a key, so a shipped pipeline that paces the simulator
    # (no `speed: max`) is replaced by the bench pipeline.
    if ! grep -Eq '^\s*speed:\s*max\b' "$sim_pipeline"; then sim_pipeline=$root/bench/pipelines/simulated-bench.yaml; fi
  else
    sim_pipeline=$root/bench/pipelines/simulated-bench.yaml
  fi
  simdir=$data/simulated
  rm -rf "$simdir" && mkdir -p "$simdir"
  log "bench: simulated pipeline $sim_pipeline"
  # Run from a scratch folder: a shipped pipeline writes its database relative to the working directory.
  if (cd "$simdir" && timed "$simdir/run" env BENCH_DB="$simdir/out.db" "$bin/cxflow" run "$sim_pipeline" --no-status); then
    sim_line=$(sed -n 's/.*\] summary: /summary: /p' "$simdir/run.err")
    sim_rss=$(cut -d' ' -f2 "$simdir/run.time")
  else
    sim_line="FAILED (see $simdir/run.err)"
    sim_rss=0
  fi
fi

# --- JSON decode -----------------------------------------------------------------------------------
json_out=""
if [[ $skip != *" json "* ]]; then
  json_out=$("$bin/cxflow-json-bench" "$json_events")
fi

# --- report ----------------------------------------------------------------------------------------
echo
echo "cxflow benchmarks on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(date -u +%Y-%m-%dT%H:%MZ)"
if [[ $skip != *" replay "* ]]; then
  echo
  echo "Replay: file -> filter -> 60 s windows per queue -> SQLite (median of $rounds alternating rounds)"
  printf '%-6s %13s %13s %6s %12s %12s %8s %8s %9s  %s\n' events "baseline ev/s" "cxflow ev/s" ratio \
    "baseline RSS" "cxflow RSS" "base CPU" "cx CPU" "CPU ratio" "same rows"
  for n in $sizes; do
    eb=$(awk -v n="$n" -v s="${result[base,$n,secs]}" 'BEGIN { printf "%.0f", n / s }')
    ec=$(awk -v n="$n" -v s="${result[cx,$n,secs]}" 'BEGIN { printf "%.0f", n / s }')
    ratio=$(awk -v a="$ec" -v b="$eb" 'BEGIN { printf "%.2f", a / b }')
    cpu_ratio=$(awk -v a="${result[base,$n,cpu]}" -v b="${result[cx,$n,cpu]}" 'BEGIN { printf "%.2f", a / b }')
    printf '%-6s %13s %13s %6s %9.1f MB %9.1f MB %7.2fs %7.2fs %9s  %s\n' "$(human "$n")" "$eb" "$ec" "$ratio" \
      "$(awk -v k="${result[base,$n,kb]}" 'BEGIN { print k / 1024 }')" \
      "$(awk -v k="${result[cx,$n,kb]}" 'BEGIN { print k / 1024 }')" \
      "${result[base,$n,cpu]}" "${result[cx,$n,cpu]}" "$cpu_ratio" "${result[same,$n]}"
  done
  echo "targets: cxflow/baseline >= 0.80; cxflow peak RSS flat from 1M to 10M and < 50 MB"
  echo "(events/s = events / wall time of the whole process, start-up and final commit included;"
  echo " CPU = user + sys seconds, all threads; CPU ratio = baseline CPU / cxflow CPU, i.e. work per event)"
fi
if [ -n "$sim_line" ]; then
  echo
  echo "Simulated: $(basename "$sim_pipeline") at speed max, peak RSS $(awk -v k="$sim_rss" 'BEGIN { printf "%.1f", k / 1024 }') MB"
  echo "  $sim_line"
fi
if [ -n "$json_out" ]; then
  echo
  echo "$json_out"
fi
