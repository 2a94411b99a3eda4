#!/usr/bin/env bash
# Runs every fuzz target in turn (one at a time: they share the machine), each for
# FUZZ_SECONDS (default 600), and prints one summary line per target for README.md.
# Needs cargo-fuzz; on stable Rust it runs with RUSTC_BOOTSTRAP=1 (cargo fuzz uses -Z flags).
# Usage: [FUZZ_SECONDS=600] [FUZZ_TARGET_DIR=dir] fuzz/run-all.sh [target ...]
set -uo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
seconds=${FUZZ_SECONDS:-600}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(cargo fuzz list))
mkdir -p logs
for t in "${targets[@]}"; do
  log="logs/$t.log"
  # The committed seeds stay in corpus/<t>; what libFuzzer adds there is git-ignored.
  cargo fuzz run ${FUZZ_TARGET_DIR:+--target-dir "$FUZZ_TARGET_DIR"} "$t" -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+')
  corp=$(grep -oE 'corp: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+')
  echo "$t rc=$rc execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} seconds=$seconds"
done
