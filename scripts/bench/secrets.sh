#!/usr/bin/env bash
# secrets-sync reading 100 secret paths from Vault: concurrent (default --concurrency 16)
# against the serial peer (--concurrency 1), same binary, same double, same run.
# HashiCorp Vault cannot run here, so the reads go to the Vault double of the tests
# (crates/secrets-sync/examples/vault-double.rs: Vault's documented KV v2 bodies) with an
# added per-request latency (LATENCY_MS, default 8 ms — a Vault in the same region) so the
# comparison measures what concurrency buys on a real network. Goal: concurrent ≤ 1 s.
# Results in target/bench/secrets.json.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
command -v hyperfine >/dev/null || die "$EXIT_USAGE" "hyperfine is not installed" "run \`scripts/dev/setup.sh bench\`"
PATHS="${PATHS:-100}"
LATENCY_MS="${LATENCY_MS:-8}"
RUNS="${RUNS:-10}"
CONCURRENCY="${CONCURRENCY:-16}"
GOAL_S=1.0
SYNC_BIN="$(bin secrets-sync)"
WORK="$(mktemp -d /tmp/devenv-bench-secrets-XXXXXX)"
OUT="$DEVENV_ROOT/target/bench"
mkdir -p "$OUT"
trap 'stop_tracked; rm -rf "$WORK"' EXIT

profile_flag=()
[[ "$PROFILE" == release ]] && profile_flag=(--release)
(cd "$DEVENV_ROOT" && cargo build --quiet "${profile_flag[@]}" -p secrets-sync --example vault-double) \
  || die "$EXIT_FAILED" "cannot build the Vault double" "run \`cargo build -p secrets-sync --example vault-double\` to see why"

# A scratch workspace whose remote mapping names PATHS Vault secrets plus literals for the
# rest of the DESIGN keys.
scratch_workspace "$WORK"
{
  echo "vault: { mount: secret }"
  echo "modes:"
  echo "  remote:"
  for kv in POSTGRES_HOST=db.internal POSTGRES_PORT=5432 POSTGRES_USER=app POSTGRES_PASSWORD=bench-pg-password \
            POSTGRES_DB=app REDIS_HOST=cache.internal REDIS_PORT=6379 REDIS_PASSWORD=bench-redis-password \
            NATS_URL=nats://nats.internal:4222 NATS_USER=app NATS_PASSWORD=bench-nats-password \
            S3_ENDPOINT=https://s3.internal S3_REGION=us-east-1 S3_ACCESS_KEY=bench S3_SECRET_KEY=bench-s3-secret \
            S3_BUCKET=devenv MOCK_INFERENCE_URL=http://mock.internal:8000 MOCK_INFERENCE_MODEL=mock-gpt; do
    echo "    ${kv%%=*}: { value: \"${kv#*=}\" }"
  done
  for ((i = 0; i < PATHS; i++)); do
    printf '    BENCH_SECRET_%03d: { path: bench/%03d, field: value }\n' "$i" "$i"
  done
} > "$WORK/configs/secrets.yaml"

"$(bin_dir)/examples/vault-double" --paths "$PATHS" --latency-ms "$LATENCY_MS" --token bench-token > "$WORK/double.addr" 2> "$WORK/double.err" &
double_pid=$!
track_pid "$double_pid"
# Settled once it printed its address, or exited.
double_settled() { [[ -s "$WORK/double.addr" ]] || ! kill -0 "$double_pid" 2>/dev/null; }
wait_until 5 double_settled \
  || die "$EXIT_TIMEOUT" "the Vault double did not start within 5 s" "run it alone: $(bin_dir)/examples/vault-double"
[[ -s "$WORK/double.addr" ]] \
  || die "$EXIT_FAILED" "the Vault double exited: $(cat "$WORK/double.err")" "run it alone: $(bin_dir)/examples/vault-double"
VAULT_ADDR="$(head -n1 "$WORK/double.addr")"
export VAULT_ADDR VAULT_TOKEN=bench-token DEVENV_ROOT="$WORK"
unset VAULT_ROLE_ID VAULT_SECRET_ID VAULT_SECRET_ID_FILE VAULT_NAMESPACE

# One checked run first: it must succeed and read every path.
"$SYNC_BIN" --mode remote --json > "$WORK/first.json" \
  || die "$EXIT_FAILED" "secrets-sync failed against the double" "run: VAULT_ADDR=$VAULT_ADDR VAULT_TOKEN=bench-token DEVENV_ROOT=$WORK $SYNC_BIN --mode remote -vv"
reads="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault"]["reads"])' "$WORK/first.json")"
[[ "$reads" == "$PATHS" ]] || die "$EXIT_FAILED" "expected $PATHS Vault reads, got $reads" "check $WORK/configs/secrets.yaml"

info "secrets-sync: $PATHS Vault paths, ${LATENCY_MS} ms per request, $RUNS runs each"
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$OUT/secrets.json" \
  -n "concurrent (--concurrency $CONCURRENCY)" "$SYNC_BIN --mode remote --quiet --concurrency $CONCURRENCY" \
  -n "serial peer (--concurrency 1)" "$SYNC_BIN --mode remote --quiet --concurrency 1" \
  || die "$EXIT_FAILED" "hyperfine failed" "rerun with RUNS=1 to see the failing command"

python3 - "$OUT/secrets.json" "$GOAL_S" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
goal = float(sys.argv[2])
conc, serial = results[0], results[1]
print(f"{'':34} {'median':>9} {'mean':>9} {'max':>9}")
for r in results:
    print(f"{r['command']:34} {r['median']:8.3f}s {r['mean']:8.3f}s {r['max']:8.3f}s")
print(f"speed-up: {serial['median'] / conc['median']:.1f}x; goal concurrent <= {goal:.1f} s: "
      + ("met" if conc["max"] <= goal else "MISSED"))
sys.exit(0 if conc["max"] <= goal else 1)
PY
