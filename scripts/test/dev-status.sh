#!/usr/bin/env bash
# End-to-end: dev-status against the real mock-inference binary — waits for it to come up,
# finds the configured model, reports a model that is not served (misconfigured), a stopped
# server (refused) and a wait that times out (exit 4); `make status`'s script passes flags on.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"

build_bins dev-status mock-inference
status_bin="$(bin dev-status)"
server="$(bin mock-inference)"

workdir="$(mktemp -d)"
trap 'stop_tracked; rm -rf "$workdir"' EXIT

port="$(free_port)"
env_file="$workdir/.env.local"
printf 'MOCK_INFERENCE_URL=http://127.0.0.1:%s\nMOCK_INFERENCE_MODEL=devenv-mock\n' "$port" > "$env_file"
chmod 600 "$env_file"
check() { NO_COLOR=1 "$status_bin" --only mock_inference --env-file "$1" "${@:2}"; }
fail() { die "$EXIT_FAILED" "dev-status end-to-end: $1" "rerun: bash scripts/test/dev-status.sh"; }

"$server" --host 127.0.0.1 --port "$port" --model devenv-mock,other-model >"$workdir/server.log" 2>&1 &
pid=$!
track_pid "$pid"
# dev-status itself is the readiness check.
check "$env_file" --wait --timeout 30 --human >"$workdir/wait.out" 2>"$workdir/wait.err" \
  || fail "mock-inference never became ready: $(cat "$workdir/wait.err" "$workdir/server.log")"
grep -q '✓ mock_inference ready after' "$workdir/wait.err" || fail "no progress line: $(cat "$workdir/wait.err")"

check "$env_file" --json > "$workdir/ok.json" || fail "healthy mock-inference reported unhealthy: $(cat "$workdir/ok.json")"
python3 - "$workdir/ok.json" <<'PY' || fail "unexpected healthy report"
import json, sys
c = json.load(open(sys.argv[1]))["components"][0]
assert c["component"] == "mock_inference" and c["state"] == "healthy", c
assert "devenv-mock" in c["message"], c
PY

sed 's/^MOCK_INFERENCE_MODEL=.*/MOCK_INFERENCE_MODEL=not-served/' "$env_file" > "$workdir/wrong-model.env"
code=0; check "$workdir/wrong-model.env" > "$workdir/wrong.json" || code=$?
[[ $code -eq 1 ]] || fail "a model that is not served gave exit $code, expected 1"
python3 - "$workdir/wrong.json" <<'PY' || fail "unexpected report for a model that is not served"
import json, sys
c = json.load(open(sys.argv[1]))["components"][0]
assert c["state"] == "unhealthy" and c["class"] == "misconfigured", c
assert "not-served" in c["message"] and "devenv-mock" in c["message"], c
PY

# `make status` runs scripts/dev/status.sh: the table, and flags passed through.
DEVENV_ENV_FILE="$env_file" NO_COLOR=1 "$DEVENV_ROOT/scripts/dev/status.sh" --only mock_inference > "$workdir/table.out" \
  || fail "scripts/dev/status.sh failed: $(cat "$workdir/table.out")"
grep -Eq '^mock_inference +healthy' "$workdir/table.out" || fail "no table row: $(cat "$workdir/table.out")"

kill "$pid"; wait "$pid" 2>/dev/null || true
code=0; check "$env_file" > "$workdir/down.json" || code=$?
[[ $code -eq 1 ]] || fail "a stopped server gave exit $code, expected 1"
grep -q '"class":"refused"' "$workdir/down.json" || fail "not classed refused: $(cat "$workdir/down.json")"
code=0; check "$env_file" --wait --timeout 1 >/dev/null 2>"$workdir/timeout.err" || code=$?
[[ $code -eq 4 ]] || fail "--wait on a stopped server gave exit $code, expected 4"
grep -q 'not ready after 1 s: mock_inference (refused)' "$workdir/timeout.err" || fail "exit 4 without the list: $(cat "$workdir/timeout.err")"
ok "dev-status: mock-inference ready/healthy, wrong model, refused and wait timeout all reported as specified"
