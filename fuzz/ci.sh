#!/usr/bin/env bash
# CI for the fuzz targets, on stable Rust (called by .ci/run): builds every target, replays every
# committed corpus file through it, then fuzzes each for FUZZ_CI_SECONDS (default 10).
#
# Stable Rust has no AddressSanitizer, and this build has no coverage instrumentation (cargo fuzz
# adds both through -Z flags), so the timed run mutates the seeds blindly; it still catches
# panics, failed assertions, hangs (-timeout) and memory blow-ups (-rss_limit_mb). The dev
# profile (debug assertions and overflow checks on, as in cargo fuzz) and the main target
# directory are used so the dependencies the test build already compiled are reused: about 2
# minutes the first time, seconds after a change, instead of about 12 CPU-minutes for --release.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_CI_SECONDS:-10}
bin_dir=../target/debug
cargo build --locked --target-dir ../target --bins

# The targets are the [[bin]]s of Cargo.toml; each must have a seed corpus and vice versa.
targets=($(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -vx rsops-fuzz | LC_ALL=C sort))
corpora=($(LC_ALL=C ls corpus))
if [ "${targets[*]}" != "${corpora[*]}" ]; then
  echo "fuzz targets (${targets[*]}) and corpus folders (${corpora[*]}) differ" >&2
  exit 1
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  seeds=(corpus/"$t"/*)
  # Replay: every file runs once (libFuzzer prints "Executed FILE" after each); a panic exits
  # non-zero (77).
  if ! "$bin_dir/$t" "${seeds[@]}" >"$scratch/$t.replay.log" 2>&1; then
    cat "$scratch/$t.replay.log" >&2
    echo "fuzz replay FAILED: $t" >&2
    exit 1
  fi
  ran=$(grep -c '^Executed ' "$scratch/$t.replay.log" || true)
  if [ "$ran" -ne "${#seeds[@]}" ]; then
    echo "fuzz replay of $t ran $ran of ${#seeds[@]} seeds" >&2
    exit 1
  fi
  # A short run; what it finds goes to a scratch corpus (the committed one stays as it is), a
  # crash to ./artifacts/ so CI keeps it.
  mkdir -p "$scratch/$t" artifacts
  if ! "$bin_dir/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -artifact_prefix="artifacts/$t-" "$scratch/$t" "corpus/$t" >"$scratch/$t.fuzz.log" 2>&1; then
    tail -60 "$scratch/$t.fuzz.log" >&2
    echo "fuzzing $t FAILED; the input is in fuzz/artifacts/" >&2
    exit 1
  fi
  echo "fuzz $t: ${#seeds[@]} seeds replayed; $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$scratch/$t.fuzz.log")"
done
