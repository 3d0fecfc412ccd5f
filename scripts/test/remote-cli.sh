#!/usr/bin/env bash
# scripts/dev/remote.sh without a cloud: every verb checks its prerequisites first and names the
# remedy (exit 2), and `reap` destroys exactly the workspaces whose ttl tag has passed.
# reap talks to the Linode API; no Linode can run here, so a test double on a loopback port
# serves the documented shapes of GET /v4/linode/instances ({"data":[…],"page","pages",
# "results"}) and DELETE /v4/linode/instances/{id} — and records what it was asked.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"

work="$(mktemp -d)"
API_PID=""
cleanup() { [[ -n "$API_PID" ]] && kill "$API_PID" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
failures=0
fail() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }

# remote.sh records events with the workspace's devenv binary (built here, not in the copy).
build_bins devenv dev-status
BIN_DIR="${DEVENV_BIN_DIR:-$(bin_dir)}"
mkdir -p "$work/root/scripts/dev" "$work/root/dev/remote" "$work/home"
cp scripts/dev/lib.sh scripts/dev/remote.sh "$work/root/scripts/dev/"
cp -r dev/remote/terraform "$work/root/dev/remote/"
TOKEN="linode-token-$(head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"

# remote ENV... -- ARGS: run the copy with a clean, controlled environment.
remote() {
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  env -i PATH="$PATH" HOME="$work/home" USER=tester NO_COLOR=1 DEVENV_BIN_DIR="$BIN_DIR" "${envs[@]}" bash "$work/root/scripts/dev/remote.sh" "$@"
}
# expect NAME CODE NEEDLE ENV... -- ARGS
expect() {
  local name="$1" code="$2" needle="$3" rc=0
  shift 3
  remote "$@" >"$work/out" 2>"$work/err" || rc=$?
  if [[ $rc -eq $code ]] && grep -qF -- "$needle" "$work/err" && grep -q '  fix: ' "$work/err"; then
    ok "$name → exit $code, says '$needle' and how to fix it"
  else
    fail "$name: exit $rc (want $code); stderr: $(cat "$work/err")"
  fi
}

expect "up without LINODE_TOKEN" 2 "LINODE_TOKEN is not set" -- up
expect "up without VAULT_ADDR" 2 "VAULT_ADDR is not set" LINODE_TOKEN="$TOKEN" -- up
expect "up without a Vault login" 2 "not logged in to Vault" LINODE_TOKEN="$TOKEN" VAULT_ADDR=https://vault.invalid -- up
expect "up without an SSH key" 2 "ssh-keygen" LINODE_TOKEN="$TOKEN" VAULT_ADDR=https://vault.invalid VAULT_TOKEN=x DEVENV_SSH_KEY="$work/home/nokey" -- up
expect "destroy of an unknown workspace" 2 "no remote workspace" LINODE_TOKEN="$TOKEN" -- destroy
expect "reap without LINODE_TOKEN" 2 "LINODE_TOKEN is not set" -- reap
expect "status over netns without a namespace name" 2 "needs DEVENV_REMOTE_NETNS" DEVENV_REMOTE_TRANSPORT=netns -- status
expect "status over a namespace that does not exist" 2 "does not exist" DEVENV_REMOTE_TRANSPORT=netns DEVENV_REMOTE_NETNS="dvr-none-$$" -- status
expect "an unknown transport" 2 "not a transport" DEVENV_REMOTE_TRANSPORT=carrier-pigeon -- logs
expect "a bad timeout" 2 "DEVENV_REMOTE_TIMEOUT=abc" DEVENV_REMOTE_TIMEOUT=abc -- status
expect "an unknown verb" 2 "unknown verb 'launch'" -- launch
expect "status over ssh without a key" 2 "SSH key" DEVENV_SSH_KEY="$work/home/nokey" -- status
if grep -rqF "$TOKEN" "$work/out" "$work/err" "$work/root/.devenv" 2>/dev/null; then fail "the Linode token was printed or logged"; else ok "the Linode token never appears in output or events"; fi

# ── reap against the Linode API double ────────────────────────────────────────────────
cat >"$work/linode_api.py" <<'PY'
import datetime, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, token, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
now = datetime.datetime.now(datetime.timezone.utc)
def ttl(hours):
    return "ttl:" + (now + datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%MZ")
INSTANCES = [
    {"id": 101, "label": "devenv-old", "tags": ["devenv", "owner:alice", "region:us-east", ttl(-2), "workspace_id:old"]},
    {"id": 102, "label": "devenv-fresh", "tags": ["devenv", "owner:bob", "region:us-east", ttl(20), "workspace_id:fresh"]},
    {"id": 103, "label": "devenv-garbled", "tags": ["devenv", "ttl:tomorrow", "workspace_id:garbled"]},
    {"id": 104, "label": "someone-elses", "tags": ["prod", ttl(-100)]},
    {"id": 105, "label": "devenv-older", "tags": ["devenv", "owner:carol", ttl(-30), "workspace_id:older"]},
]
class H(BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def authorised(self):
        if self.headers.get("Authorization") != f"Bearer {token}":
            self.reply(401, {"errors": [{"reason": "Invalid Token"}]}); return False
        return True
    def do_GET(self):
        if not self.authorised(): return
        if not self.path.startswith("/v4/linode/instances"):
            return self.reply(404, {"errors": [{"reason": "Not found"}]})
        filt = json.loads(self.headers.get("X-Filter", "{}"))
        data = [i for i in INSTANCES if "tags" not in filt or filt["tags"] in i["tags"]]
        open(log, "a").write(f"GET {self.path} filter={json.dumps(filt)}\n")
        self.reply(200, {"data": data, "page": 1, "pages": 1, "results": len(data)})
    def do_DELETE(self):
        if not self.authorised(): return
        open(log, "a").write(f"DELETE {self.path}\n")
        self.reply(200, {})
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
api_port="$(free_port)"
python3 "$work/linode_api.py" "$api_port" "$TOKEN" "$work/api.log" &
API_PID=$!
wait_until 5 curl -s -o /dev/null "http://127.0.0.1:$api_port/" || die "$EXIT_TIMEOUT" "the Linode API double did not start" "see $work/api.log"
API="http://127.0.0.1:$api_port/v4"

: >"$work/api.log"
remote LINODE_TOKEN="$TOKEN" DEVENV_LINODE_API="$API" DRY_RUN=1 -- reap >"$work/dry.out" 2>"$work/dry.err" || fail "reap DRY_RUN=1 exited non-zero: $(cat "$work/dry.err")"
if ! grep -q '^DELETE' "$work/api.log" && grep -q 'would reap instance 101' "$work/dry.out" && grep -q 'would reap instance 105' "$work/dry.out"; then
  ok "reap DRY_RUN=1 lists the expired workspaces and deletes nothing"
else
  fail "reap DRY_RUN=1: $(cat "$work/dry.out" "$work/api.log")"
fi

: >"$work/api.log"
remote LINODE_TOKEN="$TOKEN" DEVENV_LINODE_API="$API" -- reap >"$work/reap.out" 2>"$work/reap.err" || fail "reap exited non-zero: $(cat "$work/reap.err")"
deleted="$(grep '^DELETE' "$work/api.log" | sort | tr '\n' ' ')"
if [[ "$deleted" == "DELETE /v4/linode/instances/101 DELETE /v4/linode/instances/105 " ]]; then
  ok "reap deletes exactly the devenv instances whose ttl passed (101, 105)"
else
  fail "reap deleted: '$deleted'"
fi
if grep -q 'filter={"tags": "devenv"}' "$work/api.log"; then ok "reap asks the API for devenv-tagged instances only"; else fail "reap did not filter by tag: $(cat "$work/api.log")"; fi
if grep -q 'instance 103 (garbled): unreadable ttl tag' "$work/reap.err"; then ok "reap leaves an instance with an unreadable ttl alone and says so"; else fail "no warning for the garbled ttl: $(cat "$work/reap.err")"; fi
if python3 - "$work/root/.devenv/events.jsonl" <<'PY'
import json, sys
reaped = [e for e in map(json.loads, open(sys.argv[1])) if e["event"] == "remote_reaped"]
assert sorted(e["instance_id"] for e in reaped) == [101, 105], reaped  # numbers as numbers
for e in reaped:
    assert e["actor"] == "tester" and e["ts"] and e["correlation_id"], e
    assert e["workspace_id"] in ("old", "older"), e
PY
then ok "reap logs a remote_reaped event per instance with ts, actor, workspace_id"; else fail "reap events"; fi

rc=0; remote LINODE_TOKEN=wrong-token DEVENV_LINODE_API="$API" -- reap >/dev/null 2>"$work/err" || rc=$?
if [[ $rc -eq $EXIT_EXTERNAL ]] && grep -q "scopes" "$work/err"; then ok "reap with a refused token → exit 5 and the remedy"; else fail "reap with a bad token: rc=$rc $(cat "$work/err")"; fi
if grep -rqF "$TOKEN" "$work/reap.out" "$work/reap.err" "$work/dry.out" "$work/root/.devenv"; then fail "the token leaked"; else ok "the token never appears in reap's output or events"; fi

((failures == 0)) || die "$EXIT_FAILED" "remote-cli: $failures check(s) failed" "see the FAIL lines above"
ok "remote-cli: all checks passed"
