#!/usr/bin/env bash
# dev-status against the way people check a stack without it: a sequential shell script
# with pg_isready, redis-cli and curl (each with a 2 s timeout), same stack, same run.
#   1. all healthy            — goal: dev-status ≤ 0.4 × the script's wall time (medians)
#   2. redis blackholed       — goal: dev-status ≤ its threshold (2 s) + 0.2 s
# The stack: by default a private one started through the testkit (examples/bench_stack.rs)
# on free loopback ports, so the developer's own stack is untouched. STACK=workspace uses
# the stack `make up` started and its bundle instead. Results in target/bench/status*.json.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
command -v hyperfine >/dev/null || die "$EXIT_USAGE" "hyperfine is not installed" "run \`scripts/dev/setup.sh bench\`"
command -v pg_isready >/dev/null || die "$EXIT_USAGE" "pg_isready is not installed" "run \`scripts/dev/setup.sh bench\`"
command -v redis-cli >/dev/null || die "$EXIT_USAGE" "redis-cli is not installed" "run \`make setup\`"
RUNS="${RUNS:-10}"
STATUS_BIN="$(bin dev-status)"
WORK="$(mktemp -d /tmp/devenv-bench-status-XXXXXX)"
OUT="$DEVENV_ROOT/target/bench"
mkdir -p "$OUT"
trap 'stop_tracked; rm -rf "$WORK"' EXIT

if [[ "${STACK:-testkit}" == workspace ]]; then
  ENV_FILE="$(bundle_path)"
  [[ -f "$ENV_FILE" ]] || die "$EXIT_USAGE" "$ENV_FILE does not exist" "run \`make up\` first, or leave STACK unset to start a private stack"
  monitor_port="${DEVENV_NATS_MONITOR_PORT:-$(awk '/^nats_monitor:/ {print $2}' "$DEVENV_ROOT/configs/ports.yaml")}"
  cp "$ENV_FILE" "$WORK/bundle.env"
  echo "NATS_MONITOR_URL=http://127.0.0.1:$monitor_port" >> "$WORK/bundle.env"
else
  profile_flag=()
  [[ "$PROFILE" == release ]] && profile_flag=(--release)
  (cd "$DEVENV_ROOT" && cargo build --quiet "${profile_flag[@]}" -p dev-status --example bench_stack) \
    || die "$EXIT_FAILED" "cannot build the bench stack" "run \`cargo build -p dev-status --example bench_stack\` to see why"
  "$(bin_dir)/examples/bench_stack" "$WORK/bundle.env" > "$WORK/stack.out" 2>&1 &
  stack_pid=$!
  track_pid "$stack_pid"
  # The stack prints `ready` once its bundle is written (initdb takes a few seconds).
  stack_settled() { grep -q '^ready' "$WORK/stack.out" || ! kill -0 "$stack_pid" 2>/dev/null; }
  wait_until 60 stack_settled \
    || die "$EXIT_TIMEOUT" "the bench stack was not ready within 60 s: $(tail -5 "$WORK/stack.out")" "run \`make setup\`, then rerun"
  grep -q '^ready' "$WORK/stack.out" \
    || die "$EXIT_FAILED" "the bench stack exited: $(cat "$WORK/stack.out")" "run \`make setup\`"
fi
ENV_FILE="$WORK/bundle.env"
"$STATUS_BIN" --wait --timeout 60 --quiet --env-file "$ENV_FILE" \
  || die "$EXIT_FAILED" "the stack is not healthy" "see \`$STATUS_BIN --human --env-file $ENV_FILE\`"

# The peer: one tool per service, one after the other, the usual 2 s timeouts.
cat > "$WORK/sequential.sh" <<'PEER'
#!/usr/bin/env bash
set -uo pipefail
set -a; . "$1"; set +a
fail=0
pg_isready -q -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB" -t 2 || fail=1
timeout 2 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -a "$REDIS_PASSWORD" --no-auth-warning PING | grep -q PONG || fail=1
curl -fsS -m 2 -o /dev/null "$NATS_MONITOR_URL/healthz" || fail=1
curl -fsS -m 2 -o /dev/null -I --aws-sigv4 "aws:amz:${S3_REGION:-us-east-1}:s3" \
  --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  "$S3_ENDPOINT/$S3_BUCKET" || fail=1
if [[ -n "${MOCK_INFERENCE_URL:-}" ]]; then curl -fsS -m 2 -o /dev/null "$MOCK_INFERENCE_URL/health" || fail=1; fi
exit "$fail"
PEER
bash "$WORK/sequential.sh" "$ENV_FILE" || die "$EXIT_FAILED" "the sequential script fails on a healthy stack" "run it by hand: bash $WORK/sequential.sh $ENV_FILE"

info "healthy stack, $RUNS runs each"
hyperfine --style basic --runs "$RUNS" --warmup 2 --export-json "$OUT/status.json" \
  -n "dev-status" "$STATUS_BIN --quiet --env-file $ENV_FILE" \
  -n "sequential pg_isready/redis-cli/curl" "bash $WORK/sequential.sh $ENV_FILE"

# Blackholed redis: a listener that accepts and never answers.
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(128)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept())
' > "$WORK/blackhole.port" &
track_pid "$!"
wait_until 5 test -s "$WORK/blackhole.port" \
  || die "$EXIT_TIMEOUT" "the blackhole listener did not start within 5 s" "check that python3 runs: python3 -c 'import socket'"
bh_port="$(cat "$WORK/blackhole.port")"
grep -v -e '^REDIS_URL=' -e '^REDIS_PORT=' "$ENV_FILE" > "$WORK/blackholed.env"
echo "REDIS_PORT=$bh_port" >> "$WORK/blackholed.env"
chmod 600 "$WORK/blackholed.env"

info "redis blackholed (port $bh_port), $RUNS runs each"
hyperfine --style basic --runs "$RUNS" -i --export-json "$OUT/status-blackholed.json" \
  -n "dev-status (blackholed)" "$STATUS_BIN --quiet --env-file $WORK/blackholed.env" \
  -n "sequential (blackholed)" "bash $WORK/sequential.sh $WORK/blackholed.env"

python3 - "$OUT/status.json" "$OUT/status-blackholed.json" <<'PY'
import json, sys
healthy = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
blackholed = {r["command"]: r for r in json.load(open(sys.argv[2]))["results"]}
ours, peer = healthy["dev-status"]["median"], healthy["sequential pg_isready/redis-cli/curl"]["median"]
ratio = ours / peer
print(f"healthy:    dev-status median {ours*1000:.1f} ms, sequential script {peer*1000:.1f} ms, ratio {ratio:.2f}  goal ≤ 0.40: {'meets' if ratio <= 0.4 else 'MISSES'}")
b_ours, b_peer = blackholed["dev-status (blackholed)"]["median"], blackholed["sequential (blackholed)"]["median"]
print(f"blackholed: dev-status median {b_ours:.3f} s (max {blackholed['dev-status (blackholed)']['max']:.3f} s), sequential script {b_peer:.3f} s  goal ≤ 2.2 s: {'meets' if b_ours <= 2.2 else 'MISSES'}")
PY
