#!/usr/bin/env bash
# Long runs, as recorded in docs/fuzzing.md: each target, one after the other, until RUNS
# executions or SECONDS of fuzzing, whichever comes first; one fuzzer process at a time. The
# corpus grows in a work directory (the committed seeds are only read), so a run can be stopped
# and started again where it was.
#
#   fuzz/long-run.sh WORK_DIR RUNS SECONDS TARGET...
#
# Environment: FUZZ_PAUSE_FILE, a file whose presence pauses the run (a benchmark wants the
# machine): the fuzzer is stopped within 5 s and started again once the file is gone; the time
# paused does not count. Prints one line per target: executions, seconds, coverage, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$1"
runs="$2"
seconds="$3"
shift 3
pause="${FUZZ_PAUSE_FILE:-}"
chunk=120

paused() { [ -n "$pause" ] && [ -e "$pause" ]; }

# Built once, with cargo-fuzz's defaults but the sanitizer (1 codegen unit: the fastest runs).
cargo fuzz build -s none
bin="${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release"
for target in "$@"; do
  mkdir -p "$work/corpus/$target" "$work/artifacts/$target"
  done_runs=0
  done_secs=0
  crashes=0
  chunks=0
  cov="?"
  while [ "$done_runs" -lt "$runs" ] && [ "$done_secs" -lt "$seconds" ]; do
    while paused; do sleep 60; done
    left_runs=$((runs - done_runs))
    left_secs=$((seconds - done_secs))
    this=$((left_secs < chunk ? left_secs : chunk))
    log="$work/$target.$chunks.log"
    start=$(date +%s)
    # The binary `cargo fuzz run` would start, started directly so that its process id is
    # the fuzzer's.
    "$bin/$target" "$work/corpus/$target" "fuzz/corpus/$target" \
      -runs="$left_runs" -max_total_time="$this" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/$target/" >"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      if paused; then
        kill -TERM "$pid" 2>/dev/null || true
        break
      fi
      sleep 5
    done
    status=0
    wait "$pid" || status=$?
    elapsed=$(($(date +%s) - start))
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ -z "$executed" ]; then
      # Stopped before its final statistics: the last progress line says how far it got.
      executed=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -E 's/^#([0-9]+).*/\1/')
    fi
    done_runs=$((done_runs + ${executed:-0}))
    done_secs=$((done_secs + elapsed))
    chunks=$((chunks + 1))
    last_cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -nE 's/.* cov: ([0-9]+) .*/\1/p')
    cov="${last_cov:-$cov}"
    if grep -q -E 'panicked|ERROR: libFuzzer' "$log"; then
      crashes=$((crashes + 1))
      echo "fuzz: $target crashed (log $log):" >&2
      grep -E -A8 'panicked|ERROR: libFuzzer' "$log" | head -20 >&2
      break
    elif [ "$status" != 0 ] && ! paused; then
      echo "fuzz: $target: cargo fuzz failed ($status), log $log" >&2
      break
    fi
  done
  echo "fuzz: $target: $done_runs runs in $done_secs s (fuzzer started $chunks times), coverage $cov edges, corpus $(find "$work/corpus/$target" -type f | wc -l) files, crashes $crashes"
done
