#!/usr/bin/env bash
# Builds the fuzz targets and runs each for SECONDS (default 30), one after the other, one
# process at a time. New corpus entries go to a scratch directory (the committed seeds in
# fuzz/corpus/ stay as they are); a crash stops the run with the target's name, the input's
# path and the command that reproduces it.
#
#   fuzz/run.sh [SECONDS] [TARGET...]        (all targets when none are named)
#
# Environment: FUZZ_WORK, a directory to keep the scratch corpora and crash inputs in
# (default: a temporary directory, removed at the end unless something crashed);
# FUZZ_CODEGEN_UNITS (default 16; 1 for the fastest runs, built more slowly).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

work="${FUZZ_WORK:-}"
made_work=0
if [ -z "$work" ]; then
  work="$(mktemp -d)"
  made_work=1
fi

# -s none: no sanitizer (AddressSanitizer needs a nightly toolchain), so the stable toolchain
# builds it; debug assertions and overflow checks stay on. 16 codegen units build in about half
# the time of cargo-fuzz's default 1, for runs about a fifth slower: right for short runs.
fuzz_flags=(-s none --codegen-units "${FUZZ_CODEGEN_UNITS:-16}")
cargo fuzz build "${fuzz_flags[@]}"

crashed=0
for target in "${targets[@]}"; do
  mkdir -p "$work/corpus/$target" "$work/artifacts/$target"
  start=$(date +%s)
  # -rss_limit_mb: every input is small, so more memory than this is a bug worth a crash.
  if ! cargo fuzz run "${fuzz_flags[@]}" "$target" "$work/corpus/$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/$target/" >"$work/$target.log" 2>&1; then
    crashed=1
    echo "fuzz: $target FAILED" >&2
    grep -E -A12 'panicked|ERROR: libFuzzer' "$work/$target.log" | head -40 >&2 || true
    for input in "$work/artifacts/$target"/*; do
      [ -e "$input" ] || continue
      echo "fuzz: input $input (base64): $(base64 -w0 "$input")" >&2
      echo "  reproduce: cargo fuzz run ${fuzz_flags[*]} $target $input" >&2
    done
    break
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log")
  cov=$(grep -E '^#[0-9]+' "$work/$target.log" | tail -1 | sed -E 's/.* cov: ([0-9]+).*/\1/')
  echo "fuzz: $target: ${runs:-?} runs in $(($(date +%s) - start)) s, coverage ${cov:-?} edges"
done

if [ "$crashed" = 1 ]; then
  echo "fuzz: crash inputs kept in $work/artifacts" >&2
  exit 1
fi
if [ "$made_work" = 1 ]; then
  rm -rf "$work"
fi
