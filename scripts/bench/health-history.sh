#!/usr/bin/env bash
# The health history (issue 19): what recording costs a dev-status run, and how fast
# `dev-status history` summarises a large history.
#   1. recording on vs off (DEVENV_HEALTH_HISTORY=1/0), same command, RUNS runs each (default
#      200). The bundle's five services are closed ports, so each probe answers at once and the
#      difference is the recording, not network noise. Goal: median(on) − median(off) < 1 ms.
#   2. `dev-status history` (table, --json, --since 1h, --service redis) over RECORDS records
#      (default 100,000, 24 hours of five services) written through devenv-core's writer by
#      examples/health_history_fixture.rs. Goal: each < 200 ms (mean).
# Results in target/bench/health-history-*.json.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"
command -v hyperfine >/dev/null || die "$EXIT_USAGE" "hyperfine is not installed" "run \`scripts/dev/setup.sh bench\`"
command -v jq >/dev/null || die "$EXIT_USAGE" "jq is not installed" "run \`scripts/dev/setup.sh bench\`"
RUNS="${RUNS:-200}"
HISTORY_RUNS="${HISTORY_RUNS:-20}"
RECORDS="${RECORDS:-100000}"
status_bin="$(bin dev-status)"
profile_flag=()
[[ "$PROFILE" == release ]] && profile_flag=(--release)
cargo build --quiet "${profile_flag[@]}" -p dev-status --example health_history_fixture \
  || die "$EXIT_FAILED" "cannot build the history fixture" "run \`cargo build -p dev-status --example health_history_fixture\` to see why"
fixture="$(bin_dir)/examples/health_history_fixture"
work="$(mktemp -d "${TMPDIR:-/tmp}/health-history-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
out="$DEVENV_ROOT/target/bench"
mkdir -p "$out"

# 1. A workspace with a .devenv/ (runs record only there) and a bundle of closed ports.
record_ws="$work/record"
mkdir -p "$record_ws/.devenv"
{
  echo "DATABASE_URL=postgres://devenv:bench-pw-0001@127.0.0.1:$(free_port)/devenv"
  echo "REDIS_URL=redis://:bench-pw-0002@127.0.0.1:$(free_port)/0"
  echo "NATS_URL=nats://127.0.0.1:$(free_port)"
  echo "NATS_USER=devenv"
  echo "NATS_PASSWORD=bench-pw-0003"
  echo "S3_ENDPOINT=http://127.0.0.1:$(free_port)"
  echo "S3_ACCESS_KEY=devenvbench"
  echo "S3_SECRET_KEY=bench-pw-0004"
  echo "S3_BUCKET=devenv"
  echo "MOCK_INFERENCE_URL=http://127.0.0.1:$(free_port)"
} > "$record_ws/.env.local"
chmod 600 "$record_ws/.env.local"
# `env` in both commands, so both pay for the same exec.
run_with() { printf 'env DEVENV_ROOT=%s DEVENV_HEALTH_HISTORY=%s %s --quiet' "$record_ws" "$1" "$status_bin"; }
record_once() { env DEVENV_ROOT="$record_ws" DEVENV_HEALTH_HISTORY="$1" "$status_bin" --quiet || true; }
record_once 0
[[ ! -e "$record_ws/.devenv/health/health.jsonl" ]] \
  || die "$EXIT_FAILED" "DEVENV_HEALTH_HISTORY=0 still recorded" "see crates/dev-status/src/history/record.rs"
record_once 1
[[ -s "$record_ws/.devenv/health/health.jsonl" ]] \
  || die "$EXIT_FAILED" "a run recorded nothing in $record_ws/.devenv/health" "run \`$(run_with 1) -v\` to see why"

info "recording on vs off, $RUNS runs each"
hyperfine --style basic -N -i --runs "$RUNS" --warmup 10 --export-json "$out/health-history-record.json" \
  -n "recording off" "$(run_with 0)" \
  -n "recording on" "$(run_with 1)"
recorded="$(wc -l < "$record_ws/.devenv/health/health.jsonl")"

# 2. A large history, then history over it.
history_ws="$work/history"
mkdir -p "$history_ws/.devenv"
"$fixture" "$history_ws" "$RECORDS" \
  || die "$EXIT_FAILED" "the fixture could not write $RECORDS records" "run \`$fixture $history_ws $RECORDS\` to see why"
history_cmd() { printf 'env DEVENV_ROOT=%s %s history %s' "$history_ws" "$status_bin" "$*"; }
env DEVENV_ROOT="$history_ws" "$status_bin" history --json > /dev/null \
  || die "$EXIT_FAILED" "dev-status history fails on the fixture" "run \`$(history_cmd)\`"

info "dev-status history over $RECORDS records, $HISTORY_RUNS runs each"
hyperfine --style basic -N --runs "$HISTORY_RUNS" --warmup 2 --export-json "$out/health-history-read.json" \
  -n "history" "$(history_cmd)" \
  -n "history --json" "$(history_cmd --json)" \
  -n "history --since 1h" "$(history_cmd --since 1h)" \
  -n "history --service redis" "$(history_cmd --service redis)"

failed=0
# Medians: the other core's load puts a long tail on single runs, which the means carry.
delta() { jq -r --arg s "$1" '[.results[] | {(.command): .[$s]}] | add | (.["recording on"] - .["recording off"]) * 1e6 | round / 1000' "$out/health-history-record.json"; }
overhead="$(delta median)"
info ""
info "recording: $recorded records written by the 'on' runs; per run: median on − off $overhead ms, mean $(delta mean) ms, min $(delta min) ms"
if awk -v d="$overhead" 'BEGIN { exit !(d < 1) }'; then ok "recording costs $overhead ms per run (goal < 1 ms)"; else warn "recording costs $overhead ms per run (goal < 1 ms)"; failed=1; fi
while IFS=$'\t' read -r name mean_ms; do
  if awk -v t="$mean_ms" 'BEGIN { exit !(t < 200) }'; then ok "$name over $RECORDS records: $mean_ms ms (goal < 200 ms)"; else warn "$name over $RECORDS records: $mean_ms ms (goal < 200 ms)"; failed=1; fi
done < <(jq -r '.results[] | [.command, (.mean * 10000 | round / 10)] | @tsv' "$out/health-history-read.json")
((failed == 0)) || die "$EXIT_FAILED" "the health history missed a benchmark goal" "profile with \`perf record $(history_cmd)\` or the recording with \`strace -c $(run_with 1)\`"
