#!/usr/bin/env bash
# The observability stream end to end, through the real dev-status binary:
#   dev-status (DEVENV_PUSHGATEWAY_URL, DEVENV_LOKI_URL) checking a real redis-server
#     → a real prometheus-pushgateway started here on a free loopback port: the per-component
#       up/latency gauges, labelled job/workspace_id/owner/region, flip to 0 when redis dies;
#     → a Loki push-API receiver (Python, loopback) that accepts only the documented JSON shape:
#       the workspace's events, including dev-status's own status_checked, labelled
#       workspace_id/owner/region, and no secret.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
# shellcheck source=checks.bash
source "$(dirname "$0")/checks.bash"
cd "$DEVENV_ROOT"
for tool in prometheus-pushgateway redis-server python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$EXIT_USAGE" "$tool is not installed" "run \`make setup\`"
done
build_bins dev-status
DEV_STATUS="$(bin dev-status)"

work="$(mktemp -d)"
cleanup() {
  local rc=$?
  set +e
  stop_tracked
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT INT TERM
wait_http() { wait_until 5 curl -s -o /dev/null "$1" || die "$EXIT_TIMEOUT" "$1 did not answer" "see $work"; }
redis_answers() { [[ "$(REDISCLI_AUTH="$REDIS_PW" redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

# A real redis with a password.
REDIS_PORT="$(free_port)"
REDIS_PW="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
printf 'bind 127.0.0.1\nport %s\nrequirepass %s\nsave ""\nappendonly no\ndir %s\n' "$REDIS_PORT" "$REDIS_PW" "$work" >"$work/redis.conf"
redis-server "$work/redis.conf" >"$work/redis.log" 2>&1 &
track_pid "$!"
REDIS_PID=$!
wait_until 5 redis_answers || die "$EXIT_TIMEOUT" "redis-server did not start" "see $work/redis.log"

# A real Pushgateway.
GW_PORT="$(free_port)"
prometheus-pushgateway --web.listen-address="127.0.0.1:$GW_PORT" >"$work/gw.log" 2>&1 &
track_pid "$!"
wait_http "http://127.0.0.1:$GW_PORT/-/ready"

LOKI_PORT="$(free_port)"
python3 "$DEVENV_ROOT/scripts/test/loki_receiver.py" "$LOKI_PORT" "$work/loki.jsonl" &
track_pid "$!"
wait_http "http://127.0.0.1:$LOKI_PORT/"

# A scratch workspace: its own .devenv (events) and bundle.
mkdir -p "$work/ws/.devenv"
umask 077
cat >"$work/ws/.env.local" <<EOF
DEVENV_WORKSPACE='tele-test'
DEVENV_MODE='local'
REDIS_HOST='127.0.0.1'
REDIS_PORT='$REDIS_PORT'
REDIS_PASSWORD='$REDIS_PW'
REDIS_URL='redis://:$REDIS_PW@127.0.0.1:$REDIS_PORT/0'
EOF
umask 022
printf '{"ts":"2026-01-01T00:00:00.000Z","correlation_id":"c-1","source":"scripts/up","event":"up_done"}\n' >"$work/ws/.devenv/events.jsonl"

status() {
  (cd "$work/ws" && env DEVENV_ROOT="$work/ws" DEVENV_WORKSPACE=tele-test DEVENV_OWNER=tester DEVENV_REGION=local-1 \
    DEVENV_PUSHGATEWAY_URL="http://127.0.0.1:$GW_PORT" DEVENV_LOKI_URL="http://127.0.0.1:$LOKI_PORT" \
    "$DEV_STATUS" --json --env-file "$work/ws/.env.local" --only redis >"$work/status.json" 2>"$work/status.err")
}
gauge() {
  curl -fsS "http://127.0.0.1:$GW_PORT/metrics" | python3 -c '
import sys
metric, component = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    if line.startswith(metric + "{") and f"component=\"{component}\"" in line and "workspace_id=\"tele-test\"" in line \
       and "job=\"devenv_status\"" in line and "owner=\"tester\"" in line and "region=\"local-1\"" in line:
        print(line.rsplit(" ", 1)[1].strip()); break
' "$1" "$2"
}

rc=0; status || rc=$?
[[ $rc -eq 0 ]] || fail "dev-status exited $rc with redis up: $(cat "$work/status.err")"
up="$(gauge devenv_component_up redis)"
latency="$(gauge devenv_component_latency_seconds redis)"
if [[ "$up" == 1 ]] && python3 -c "import sys; assert 0 <= float(sys.argv[1]) < 5  # dev-status measures whole ms; a local PING can be 0" "$latency"; then
  ok "pushgateway: devenv_component_up{component=redis,workspace_id,owner,region} 1, latency ${latency}s"
else
  fail "pushgateway after a healthy check: up='$up' latency='$latency'"
fi

kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
rc=0; status || rc=$?
up="$(gauge devenv_component_up redis)"
if [[ $rc -eq 1 && "$up" == 0 ]]; then ok "redis killed: dev-status exits 1 and the gauge drops to 0"; else fail "after killing redis: exit $rc, up='$up'"; fi

if python3 - "$work/loki.jsonl" <<'PY'
import json, sys
events = []
for push in map(json.loads, open(sys.argv[1])):
    for s in push["streams"]:
        assert s["stream"]["workspace_id"] == "tele-test" and s["stream"]["owner"] == "tester" and s["stream"]["region"] == "local-1", s
        events += [(s["stream"]["source"], json.loads(l)["event"]) for _, l in s["values"]]
assert ("scripts/up", "up_done") in events, events
checked = [e for e in events if e == ("dev-status", "status_checked")]
assert len(checked) >= 1, events
# Each line goes once: the script's event was in the file before both runs.
assert events.count(("scripts/up", "up_done")) == 1, events
PY
then ok "Loki: the workspace's events (scripts' and dev-status's), labelled, each shipped once"; else fail "Loki receiver content: $(cat "$work/loki.jsonl")"; fi
if grep -qF "$REDIS_PW" "$work/loki.jsonl" "$work/status.json" "$work/status.err"; then fail "the redis password left the process"; else ok "no secret in pushes or output"; fi

finish remote-telemetry "see the FAIL lines above"
ok "remote-telemetry: dev-status → Pushgateway and Loki work"
