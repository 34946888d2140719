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
#   REPLAY_RUNTIMES  extra runs of that pipeline with other `runtime:` settings, '|'-separated YAML
#               flow maps, each run in the same alternating rounds, e.g.
#               REPLAY_RUNTIMES="{threads: 1}|{placement: shared}"
#   JSON_EVENTS lines for cxflow-json-bench (default: 1000000)
#   CXONE_SIZES event counts for the live-source comparison (default: SIZES): the fake CXone over
#               TLS (cxflow-fake-cxone, pinned to core CXONE_CPU, default 1) -> cxflow-cxone-baseline
#               vs bench/pipelines/cxone-bench.yaml, alternating, ROUNDS times
#   SKIP        space-separated parts to skip: replay cxone simulated json
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
  aggregate-window sink-sqlite cxflow-gen-events cxflow-baseline cxflow-json-bench \
  source-cxone cxflow-fake-cxone cxflow-cxone-baseline >&2
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

# same_rows A.db B.db: "yes (N rows)" when both hold the same queue_minutes rows (rounded to 1e-6,
# both computed in double), else what differs.
same_rows() {
  local q="SELECT window_start, queue, contacts, round(avg_handle_time, 6), round(avg_wait_time, 6), round(service_level, 6) FROM queue_minutes ORDER BY 1, 2"
  if ! command -v sqlite3 >/dev/null 2>&1; then echo "not checked (no sqlite3)"; return; fi
  local rows_a rows_b
  rows_a=$(sqlite3 "$1" "SELECT count(*) FROM queue_minutes")
  rows_b=$(sqlite3 "$2" "SELECT count(*) FROM queue_minutes")
  if diff <(sqlite3 "$1" "$q") <(sqlite3 "$2" "$q") >/dev/null; then echo "yes ($rows_a rows)"
  else echo "NO: baseline $rows_a rows, cxflow $rows_b rows (diff $1 and $2)"; fi
}

# medians KEY TIMES: result[KEY,secs], result[KEY,kb], result[KEY,cpu] from the timed() lines in TIMES.
medians() {
  result[$1,secs]=$(cut -d' ' -f1 "$2" | median)
  result[$1,kb]=$(cut -d' ' -f2 "$2" | median)
  result[$1,cpu]=$(awk '{ print $3 + $4 }' "$2" | median)
}

# comparison_table PREFIX N...: the baseline/cxflow table of result[PREFIXbase,N,*],
# result[PREFIXcx,N,*] and result[PREFIXsame,N], then the targets.
comparison_table() {
  local p=$1 n eb ec
  shift
  printf '%-6s %13s %13s %6s %12s %12s %8s %8s %9s  %s\n' events "baseline ev/s" "cxflow ev/s" ratio \
    "baseline RSS" "cxflow RSS" "base CPU" "cx CPU" "CPU ratio" "same rows"
  for n in "$@"; do
    eb=$(awk -v n="$n" -v s="${result[${p}base,$n,secs]}" 'BEGIN { printf "%.0f", n / s }')
    ec=$(awk -v n="$n" -v s="${result[${p}cx,$n,secs]}" 'BEGIN { printf "%.0f", n / s }')
    printf '%-6s %13s %13s %6s %9.1f MB %9.1f MB %7.2fs %7.2fs %9s  %s\n' "$(human "$n")" "$eb" "$ec" \
      "$(awk -v a="$ec" -v b="$eb" 'BEGIN { printf "%.2f", a / b }')" \
      "$(awk -v k="${result[${p}base,$n,kb]}" 'BEGIN { print k / 1024 }')" \
      "$(awk -v k="${result[${p}cx,$n,kb]}" 'BEGIN { print k / 1024 }')" \
      "${result[${p}base,$n,cpu]}" "${result[${p}cx,$n,cpu]}" \
      "$(awk -v a="${result[${p}base,$n,cpu]}" -v b="${result[${p}cx,$n,cpu]}" 'BEGIN { printf "%.2f", a / b }')" \
      "${result[${p}same,$n]}"
  done
  echo "targets: cxflow/baseline >= 0.80; cxflow peak RSS flat from 1M to 10M and < 50 MB"
}

human() { awk -v n="$1" 'BEGIN { if (n >= 1e6) printf "%.0fM", n / 1e6; else if (n >= 1e3) printf "%.0fk", n / 1e3; else print n }'; }

# --- replay: baseline vs cxflow --------------------------------------------------------------------
declare -A result
replay_pipeline=${REPLAY_PIPELINE:-$root/bench/pipelines/replay-bench.yaml}
IFS='|' read -r -a runtimes <<<"${REPLAY_RUNTIMES:-}"
variants=""
for i in "${!runtimes[@]}"; do
  # The variant: the pipeline with a runtime: line in front (a pipeline cannot have two).
  if grep -q '^runtime:' "$replay_pipeline"; then log "bench: REPLAY_RUNTIMES needs a pipeline without runtime:"; exit 1; fi
  { echo "runtime: ${runtimes[$i]}"; cat "$replay_pipeline"; } >"$data/replay-rt$i.yaml"
  variants+=" rt$i"
done
if [[ $skip != *" replay "* ]]; then
  replay_load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  for n in $sizes; do
    in=$data/events-$n.jsonl
    if [ ! -s "$in" ]; then
      log "bench: generating $n events -> $in"
      "$bin/cxflow-gen-events" "$n" "$in.tmp" --seed 42
      mv "$in.tmp" "$in"
    fi
    cat "$in" >/dev/null  # warm the page cache so that round 1 is not the only cold one
    for who in base cx $variants; do : >"$data/times-$who-$n"; done
    for r in $(seq 1 "$rounds"); do
      for who in base cx $variants; do
        db=$data/out-$who-$n.db
        rm -f "$db" "$db-wal" "$db-shm"
        if [ $who = base ]; then
          timed "$data/run-$who-$n" "$bin/cxflow-baseline" "$in" "$db"
        else
          pipeline=$replay_pipeline
          [ $who = cx ] || pipeline=$data/replay-$who.yaml
          timed "$data/run-$who-$n" env BENCH_IN="$in" BENCH_DB="$db" "$bin/cxflow" run "$pipeline" --no-status
        fi
        cat "$data/run-$who-$n.time" >>"$data/times-$who-$n"
        log "bench: $(human "$n") round $r $who: $(awk '{ printf "%s s wall, %.1f MB peak RSS, %.2f s CPU", $1, $2 / 1024, $3 + $4 }' "$data/run-$who-$n.time")"
      done
    done
    for who in base cx $variants; do medians "$who,$n" "$data/times-$who-$n"; done
    result[same,$n]=$(same_rows "$data/out-base-$n.db" "$data/out-cx-$n.db")
    for who in $variants; do result[$who-same,$n]=$(same_rows "$data/out-base-$n.db" "$data/out-$who-$n.db"); done
    sed -n "s/.*\] summary: /cxflow $(human "$n") last round: summary: /p" "$data/run-cx-$n.err" >&2
  done
  replay_load_after=$(cut -d' ' -f1-3 /proc/loadavg)
fi

# --- live source: fake CXone over TLS -> baseline vs cxflow -------------------------------------------
# Each run gets a fresh fake (so it reads exactly N events): full speed (--rate 0), pinned to one
# core, N seed-shaped completed interactions (ended, every 10th abandoned; 3 queues; event time
# 5 ms apart, from 2026-01-05T08:00:00Z) pre-encoded into 16 KiB writes, then close 1000. Both
# clients stop at that close: the baseline by itself, cxflow through source-cxone's end_on_close
# (cxone-bench.yaml), which ends the stream, drains the pipeline and exits 0.
cxone_sizes=${CXONE_SIZES:-$sizes}
cxone_cpu=${CXONE_CPU:-1}
if [[ $skip != *" cxone "* ]]; then
  tls=$data/cxone-tls
  mkdir -p "$tls"
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  for n in $cxone_sizes; do
    : >"$data/times-cxone-base-$n" ; : >"$data/times-cxone-cx-$n"
    for r in $(seq 1 "$rounds"); do
      for who in base cx; do
        run=$data/run-cxone-$who-$n
        db=$data/out-cxone-$who-$n.db
        rm -f "$db" "$db-wal" "$db-shm"
        "$bin/cxflow-fake-cxone" --port 0 --cert-dir "$tls" --rate 0 --events "$n" --start-ms 1767600000000 \
          --interval-ms 5 --cpu "$cxone_cpu" --exit-after-end >"$run.fake.out" 2>"$run.fake.err" &
        fake_pid=$!
        port=""
        for _ in $(seq 1 600); do
          port=$(sed -n 's/^fake CXone listening on port \([0-9]*\).*/\1/p' "$run.fake.err")
          [ -n "$port" ] || ! kill -0 "$fake_pid" 2>/dev/null && break
          sleep 0.05
        done
        if [ -z "$port" ]; then
          log "bench: the fake CXone did not start"; cat "$run.fake.err" >&2; kill "$fake_pid" 2>/dev/null || true; exit 1
        fi
        if [ $who = base ]; then
          timed "$run" "$bin/cxflow-cxone-baseline" "https://localhost:$port" "$tls/cert.pem" "$db"
        else
          if ! timed "$run" env BENCH_CXONE_URL="https://localhost:$port" BENCH_CXONE_WS="wss://localhost:$port" \
            BENCH_CA="$tls/cert.pem" BENCH_DB="$db" "$bin/cxflow" run "$root/bench/pipelines/cxone-bench.yaml" --no-status; then
            kill "$fake_pid" 2>/dev/null || true; wait "$fake_pid" || true; exit 1
          fi
        fi
        wait "$fake_pid" || true
        sent=$(sed -n 's/.*"events_sent":\([0-9]*\).*/\1/p' "$run.fake.out")
        if [ "$sent" != "$n" ]; then log "bench: the fake sent ${sent:-?} events, not $n"; exit 1; fi
        cat "$run.time" >>"$data/times-cxone-$who-$n"
        log "bench: cxone $(human "$n") round $r $who: $(awk '{ printf "%s s wall, %.1f MB peak RSS, %.2f s CPU", $1, $2 / 1024, $3 + $4 }' "$run.time")"
      done
    done
    for who in base cx; do medians "cxone-$who,$n" "$data/times-cxone-$who-$n"; done
    result[cxone-same,$n]=$(same_rows "$data/out-cxone-base-$n.db" "$data/out-cxone-cx-$n.db")
    sed -n "s/.*\] summary: /cxflow cxone $(human "$n") last round: summary: /p" "$data/run-cxone-cx-$n.err" >&2
  done
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
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
  echo "Replay: file -> filter -> 60 s windows per queue -> SQLite (median of $rounds alternating rounds;"
  echo "load average $replay_load_before before, $replay_load_after after)"
  comparison_table "" $sizes
  for i in "${!runtimes[@]}"; do
    echo "with runtime: ${runtimes[$i]}"
    for n in $sizes; do
      result[rt$i-base,$n,secs]=${result[base,$n,secs]}; result[rt$i-base,$n,kb]=${result[base,$n,kb]}
      result[rt$i-base,$n,cpu]=${result[base,$n,cpu]}
      result[rt$i-cx,$n,secs]=${result[rt$i,$n,secs]}; result[rt$i-cx,$n,kb]=${result[rt$i,$n,kb]}
      result[rt$i-cx,$n,cpu]=${result[rt$i,$n,cpu]}
    done
    comparison_table "rt$i-" $sizes | sed '1d;$d'
  done
  echo "(events/s = events / wall time of the whole process, start-up and final commit included;"
  echo " CPU = user + sys seconds, all threads; CPU ratio = baseline CPU / cxflow CPU, i.e. work per event)"
fi
if [[ $skip != *" cxone "* ]]; then
  echo
  echo "Live source: fake CXone (TLS, full speed, core $cxone_cpu) -> filter -> 60 s windows per queue -> SQLite"
  echo "(median of $rounds alternating rounds; load average $load_before before, $load_after after)"
  comparison_table cxone- $cxone_sizes
  echo "(the client's wall time: token, subscription, TLS and WebSocket handshakes, every event, final commit)"
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
