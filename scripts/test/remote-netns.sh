#!/usr/bin/env bash
# End-to-end test of the remote workspace path without a cloud: a second "host" is a network
# namespace created here, joined to a second namespace (the developer's side) by a veth pair
# on a private /30. Nothing touches the machine's own network namespace.
#   dvr-local-<pid>  10.213.77.1/30  ── veth ──  10.213.77.2/30  dvr-remote-<pid>
# The remote runs the native suite (postgres, redis, nats, s3) through dev/remote/suite.sh, the
# same script its systemd units call. From the local side, scripts/dev/remote.sh status / logs /
# reset must work across the link (transport: ip netns exec); events reach a Loki receiver;
# and with a DROP rule on the link (inside the remote namespace) status must report timeouts
# within its deadline.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
# shellcheck source=checks.bash
source "$(dirname "$0")/checks.bash"
cd "$DEVENV_ROOT"

if ((EUID != 0)); then
  info "remote-netns: skipped (network namespaces need root; CI runs it)"
  exit 77
fi
# The client side (remote.sh) runs the workspace's devenv and dev-status binaries; the servers
# are found where distributions put them (devenv which --path: /usr/sbin, PostgreSQL's bin…).
build_bins devenv dev-status
DEVENV_BIN_DIR="${DEVENV_BIN_DIR:-$(bin_dir)}"
PATH="$("$(bin devenv)" which --path)"
export DEVENV_BIN_DIR PATH
for tool in ip setpriv initdb postgres psql redis-server redis-cli nats-server curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$EXIT_USAGE" "$tool is not installed" "run \`make setup\`"
done
command -v s3s-fs >/dev/null 2>&1 || command -v minio >/dev/null 2>&1 || die "$EXIT_USAGE" "no S3 server (minio or s3s-fs)" "run \`make setup\`"
if command -v iptables >/dev/null 2>&1; then FIREWALL=iptables
elif command -v nft >/dev/null 2>&1; then FIREWALL=nft
else die "$EXIT_USAGE" "neither iptables nor nft is installed" "run \`make setup\` (scripts/dev/setup.d/remote.sh)"; fi

NS_LOCAL="dvr-local-$$"
NS_REMOTE="dvr-remote-$$"
VETH_LOCAL="dvrl$$"
VETH_REMOTE="dvrr$$"
LOCAL_IP=10.213.77.1
REMOTE_IP=10.213.77.2
TIMEOUT_S=2
SERVICES="postgres redis nats s3"

work="$(mktemp -d)"
chmod 0755 "$work"   # the remote postgres runs as the postgres user and must reach its data
LOKI_PID=""
cleanup() {
  local rc=$?
  set +e
  if ip netns list | grep -qw "$NS_REMOTE"; then
    DEVENV_BUNDLE="$work/remote/.env.linode" DEVENV_STATE_DIR="$work/remote/state" DEVENV_LOG_DIR="$work/remote/log" \
      DEVENV_SERVICES="$SERVICES" DEVENV_SUPERVISOR=process \
      timeout 30 ip netns exec "$NS_REMOTE" "$work/root/dev/remote/suite.sh" down >/dev/null 2>&1
  fi
  [[ -n "$LOKI_PID" ]] && kill "$LOKI_PID" 2>/dev/null
  # Anything still running in the namespaces was started by this test.
  for ns in "$NS_REMOTE" "$NS_LOCAL"; do
    ip netns list | grep -qw "$ns" || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns"
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT INT TERM

# no_secret FILE... — none of this run's passwords appears in the files.
no_secret() { ! grep -qF -e "$PG_PASSWORD" -e "$REDIS_PW" -e "$NATS_PW" -e "$S3_SECRET" "$@"; }
# exit_and_says CODE WANT FILE PATTERN — the exit code was WANT and FILE contains PATTERN.
exit_and_says() { [[ "$1" -eq "$2" ]] && grep -qF -- "$4" "$3"; }

# ── the two hosts and the link ─────────────────────────────────────────────────────────
ip netns add "$NS_LOCAL"
ip netns add "$NS_REMOTE"
ip link add "$VETH_LOCAL" netns "$NS_LOCAL" type veth peer name "$VETH_REMOTE" netns "$NS_REMOTE"
ip -n "$NS_LOCAL" addr add "$LOCAL_IP/30" dev "$VETH_LOCAL"
ip -n "$NS_REMOTE" addr add "$REMOTE_IP/30" dev "$VETH_REMOTE"
for ns in "$NS_LOCAL" "$NS_REMOTE"; do ip -n "$ns" link set lo up; done
ip -n "$NS_LOCAL" link set "$VETH_LOCAL" up
ip -n "$NS_REMOTE" link set "$VETH_REMOTE" up

# ── a workspace checkout on the local side (its own .devenv) and the remote host's files ──
mkdir -p "$work/root/scripts/dev" "$work/root/dev/remote" "$work/remote"
cp scripts/dev/lib.sh scripts/dev/remote.sh "$work/root/scripts/dev/"
cp dev/remote/suite.sh "$work/root/dev/remote/"
secret() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }
PG_PASSWORD="$(secret)" REDIS_PW="$(secret)" NATS_PW="$(secret)" S3_SECRET="$(secret)"
umask 077
cat >"$work/remote/.env.linode" <<EOF
DEVENV_WORKSPACE='netns-test'
DEVENV_MODE='remote'
POSTGRES_HOST='$REMOTE_IP'
POSTGRES_PORT='5432'
POSTGRES_USER='devenv'
POSTGRES_PASSWORD='$PG_PASSWORD'
POSTGRES_DB='devenv'
DATABASE_URL='postgres://devenv:$PG_PASSWORD@$REMOTE_IP:5432/devenv'
REDIS_HOST='$REMOTE_IP'
REDIS_PORT='6379'
REDIS_PASSWORD='$REDIS_PW'
NATS_URL='nats://$REMOTE_IP:4222'
NATS_USER='devenv'
NATS_PASSWORD='$NATS_PW'
S3_ENDPOINT='http://$REMOTE_IP:9000'
S3_REGION='us-east-1'
S3_ACCESS_KEY='devenvnetns'
S3_SECRET_KEY='$S3_SECRET'
S3_BUCKET='devenv'
EOF
umask 022
cp "$work/remote/.env.linode" "$work/root/.env.linode"
chmod 0600 "$work/root/.env.linode"

# Remote-side settings reach suite.sh through `ip netns exec`, which keeps the environment.
export DEVENV_BUNDLE="$work/remote/.env.linode" DEVENV_STATE_DIR="$work/remote/state" DEVENV_LOG_DIR="$work/remote/log"
export DEVENV_SERVICES="$SERVICES" DEVENV_SUPERVISOR=process DEVENV_READY_TIMEOUT=30
DEVENV_DEV_STATUS="$(bin dev-status)"
export DEVENV_DEV_STATUS
export DEVENV_REMOTE_TRANSPORT=netns DEVENV_REMOTE_NETNS="$NS_REMOTE" DEVENV_REMOTE_SUITE="$work/root/dev/remote/suite.sh"
export DEVENV_REMOTE_SERVICES="$SERVICES" DEVENV_REMOTE_TIMEOUT="$TIMEOUT_S" DEVENV_WORKSPACE=netns-test
export DEVENV_OWNER=tester DEVENV_REGION=netns-1 NO_COLOR=1

# The "StackScript": bring the suite up on the remote host.
ip netns exec "$NS_REMOTE" "$work/root/dev/remote/suite.sh" up >/dev/null \
  || { cat "$work"/remote/log/*.log >&2 || true; die "$EXIT_FAILED" "the suite did not start in $NS_REMOTE" "see the logs above"; }

ip netns exec "$NS_LOCAL" python3 "$DEVENV_ROOT/scripts/test/loki_receiver.py" 3100 "$work/loki.jsonl" &
LOKI_PID=$!
wait_until 5 ip netns exec "$NS_LOCAL" curl -s -o /dev/null http://127.0.0.1:3100/ || die "$EXIT_TIMEOUT" "the Loki receiver did not start" "see $work/loki.jsonl"

client() { ip netns exec "$NS_LOCAL" env DEVENV_LOKI_URL=http://127.0.0.1:3100 bash "$work/root/scripts/dev/remote.sh" "$@"; }
remote_psql() {
  ip netns exec "$NS_LOCAL" env PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=3 \
    psql -X -q -h "$REMOTE_IP" -U devenv -d devenv -tA "$@"
}

# ── remote-status across the link ──────────────────────────────────────────────────────
rc=0; client status --json >"$work/status.json" 2>"$work/status.err" || rc=$?
check "remote-status: exit 0 with every service healthy across the link" test "$rc" -eq 0
check "remote-status --json: dev-status' document, 4 healthy components at $REMOTE_IP" python3 - "$work/status.json" "$REMOTE_IP" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["schema_version"] == 1 and doc["kind"] == "status" and doc["overall"] == "healthy", doc
names = {c["component"]: c for c in doc["components"] if c["state"] != "skipped"}
assert set(names) == {"postgres", "redis", "nats", "s3"}, names
for c in names.values():
    assert c["state"] == "healthy", c
    assert sys.argv[2] + ":" in c["endpoint"], c
PY
check "remote-status: no password in its output" no_secret "$work/status.json" "$work/status.err"

# Wrong credentials are an auth failure, not a timeout.
sed "s/^REDIS_PASSWORD=.*/REDIS_PASSWORD='wrong-password'/" "$work/root/.env.linode" >"$work/wrong.env"
rc=0; ip netns exec "$NS_LOCAL" env DEVENV_REMOTE_BUNDLE="$work/wrong.env" DEVENV_REMOTE_SERVICES=redis \
  bash "$work/root/scripts/dev/remote.sh" status --json >"$work/wrong.json" 2>/dev/null || rc=$?
check "remote-status: a wrong redis password → exit 1, class auth" exit_and_says "$rc" 1 "$work/wrong.json" '"class":"auth"' 

# ── data across the link, remote-logs, remote-reset ────────────────────────────────────
remote_psql -c "CREATE TABLE survivor (id int); INSERT INTO survivor VALUES (42);"
check "a row written across the link reads back" test "$(remote_psql -c 'SELECT id FROM survivor')" = 42
ip netns exec "$NS_LOCAL" env REDISCLI_AUTH="$REDIS_PW" redis-cli -h "$REMOTE_IP" SET marker kept >/dev/null

LINES=40 client logs >"$work/logs.out" 2>&1 || fail "remote-logs exited non-zero"
check "remote-logs: shows the remote postgres log" grep -q 'database system is ready to accept connections' "$work/logs.out"
check "remote-logs: shows the remote redis log" grep -q 'Ready to accept connections' "$work/logs.out"
check "remote-logs: no password" no_secret "$work/logs.out"

rc=0; client reset </dev/null >/dev/null 2>"$work/reset.err" || rc=$?
check "remote-reset without FORCE on a non-tty: refuses (exit 2) and names FORCE=1" exit_and_says "$rc" 2 "$work/reset.err" "FORCE=1"
check "… and the data is untouched" test "$(remote_psql -c 'SELECT id FROM survivor')" = 42

FORCE=1 client reset >"$work/reset.out" 2>&1 || { cat "$work/reset.out" >&2; fail "remote-reset exited non-zero"; }
row_gone() { ! remote_psql -c 'SELECT id FROM survivor' >/dev/null 2>&1; }
check "remote-reset: the row is gone" row_gone
check "remote-reset: the redis key is gone" test -z "$(ip netns exec "$NS_LOCAL" env REDISCLI_AUTH="$REDIS_PW" redis-cli -h "$REMOTE_IP" GET marker)"
status_healthy() { client status >/dev/null 2>&1; }
check "remote-status after reset: healthy again" status_healthy

# ── the link drops: status reports timeouts within its deadline ────────────────────────
if [[ $FIREWALL == iptables ]]; then
  ip netns exec "$NS_REMOTE" iptables -I INPUT -i "$VETH_REMOTE" -j DROP
else
  ip netns exec "$NS_REMOTE" nft -f - <<EOF
table inet devenv_test { chain input { type filter hook input priority 0; iifname "$VETH_REMOTE" drop; } }
EOF
fi
start_ms="$(date +%s%3N)"
rc=0; client status --json >"$work/dropped.json" 2>/dev/null || rc=$?
elapsed_ms=$(($(date +%s%3N) - start_ms))
check "remote-status with the link dropped: exit 1" test "$rc" -eq 1
check "remote-status with the link dropped: every component is 'timeout'" python3 - "$work/dropped.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["overall"] == "unhealthy", doc
for c in doc["components"]:
    if c["state"] == "skipped":
        continue
    assert c["state"] == "unhealthy" and c["class"] == "timeout", c
    assert "within" in c["message"], c
PY
# Probes run in parallel: the whole status takes about one deadline, not one per component.
limit_ms=$((TIMEOUT_S * 1000 + 2000))
check "remote-status with the link dropped: answered in ${elapsed_ms} ms (deadline ${TIMEOUT_S}s, limit ${limit_ms} ms)" \
  test "$elapsed_ms" -le "$limit_ms"
if [[ $FIREWALL == iptables ]]; then
  ip netns exec "$NS_REMOTE" iptables -D INPUT -i "$VETH_REMOTE" -j DROP
else
  ip netns exec "$NS_REMOTE" nft delete table inet devenv_test
fi
check "remote-status after the link is restored: healthy" status_healthy

# ── the lifecycle events ───────────────────────────────────────────────────────────────
events="$work/root/.devenv/events.jsonl"
check "events.jsonl: remote_status / remote_logs / remote_reset_* with ts, actor, correlation_id" python3 - "$events" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
names = {e["event"] for e in evs}
for n in ("remote_status", "remote_logs", "remote_reset_started", "remote_reset_done"):
    assert n in names, (n, names)
for e in evs:
    if not e["source"].startswith("scripts/"):
        continue  # dev-status' own events (status_checked) carry no actor
    keys = ("ts", "actor", "correlation_id", "source")
    if e["event"] != "remote_failed":  # lib.sh's die() event carries only the message
        keys += ("workspace_id",)
    for k in keys:
        assert e.get(k), (k, e)
PY
check "events.jsonl: no password" no_secret "$events"
check "Loki receiver: got the lifecycle events with labels workspace_id/owner/region" python3 - "$work/loki.jsonl" <<'PY'
import json, sys
pushes = [json.loads(l) for l in open(sys.argv[1])]
events = set()
for p in pushes:
    for s in p["streams"]:
        assert s["stream"]["workspace_id"] == "netns-test" and s["stream"]["owner"] == "tester" and s["stream"]["region"] == "netns-1", s
        events |= {json.loads(line)["event"] for _, line in s["values"]}
assert {"remote_status", "remote_logs", "remote_reset_done"} <= events, events
PY

finish remote-netns "rerun alone: bash scripts/test/remote-netns.sh"
ok "remote-netns: status, logs and reset work across the namespace link; a dropped link times out in ${elapsed_ms} ms"
