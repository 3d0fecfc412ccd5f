#!/usr/bin/env bash
# End-to-end: `make secrets-sync` in a scratch copy of the checkout — the local bundle and the
# rendered service configs (read back with python-dotenv), idempotence, MODE=remote, and the
# script's refusals: a bad MODE (2), an unreachable Vault (5, bundle untouched), a template
# placeholder the bundle cannot fill (2, listed). Vault itself is covered by the crate's tests.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"

build_bins secrets-sync
DEVENV_BIN_DIR="$(bin_dir)"
export DEVENV_BIN_DIR

ws="$(mktemp -d)"
trap 'rm -rf "$ws"' EXIT
scratch_workspace "$ws"
fail() { die "$EXIT_FAILED" "secrets-sync end-to-end: $1" "rerun: bash scripts/test/secrets-sync.sh"; }
sync_script() { (cd "$ws" && env -u VAULT_ADDR -u VAULT_TOKEN NO_COLOR=1 "$@" bash scripts/dev/secrets-sync.sh); }

env -u VAULT_ADDR -u VAULT_TOKEN NO_COLOR=1 make -C "$ws" secrets-sync >"$ws/.out1" 2>&1 \
  || fail "make secrets-sync failed: $(cat "$ws/.out1")"
[[ "$(stat -c %a "$ws/.env.local")" == 600 ]] || fail ".env.local is not 0600"
for svc in api worker; do
  [[ "$(stat -c %a "$ws/.devenv/config/$svc.env")" == 600 ]] || fail ".devenv/config/$svc.env missing or not 0600"
done
"$(venv_python)" - "$ws/.env.local" "$ws/.devenv/config/api.env" "$ws/.devenv/config/worker.env" <<'PY' || fail "rendered configs do not match the bundle"
import sys
from dotenv import dotenv_values
bundle, api, worker = (dotenv_values(p) for p in sys.argv[1:])
assert api["DATABASE_URL"] == bundle["DATABASE_URL"], "api DATABASE_URL"
assert api["INFERENCE_BASE_URL"] == bundle["MOCK_INFERENCE_URL"] + "/v1"
assert worker["ARTIFACTS_S3_SECRET_KEY"] == bundle["S3_SECRET_KEY"]
assert api["APP_ENV"] == "dev-local"
PY
password="$(sed -n 's/^POSTGRES_PASSWORD=//p' "$ws/.env.local" | tr -d "'\"")"
[[ -n "$password" ]] || fail "no POSTGRES_PASSWORD in .env.local"
if grep -qF -- "$password" "$ws/.out1"; then fail "make secrets-sync printed a password"; fi

make -C "$ws" secrets-sync >"$ws/.out2" 2>&1 || fail "second make secrets-sync failed: $(cat "$ws/.out2")"
grep -q 'unchanged' "$ws/.out2" || fail "second run did not say unchanged: $(cat "$ws/.out2")"

sync_script MODE=remote >"$ws/.out3" 2>&1 || fail "MODE=remote failed: $(cat "$ws/.out3")"
grep -q '^DEVENV_EXPIRES_AT=' "$ws/.env.linode" || fail ".env.linode has no DEVENV_EXPIRES_AT"

code=0; sync_script MODE=bogus >"$ws/.out4" 2>&1 || code=$?
if [[ $code -ne $EXIT_USAGE ]] || ! grep -q 'fix:' "$ws/.out4"; then fail "MODE=bogus gave exit $code: $(cat "$ws/.out4")"; fi

before="$(sha256sum "$ws/.env.linode")"
code=0; sync_script MODE=remote VAULT_ADDR="http://127.0.0.1:$(free_port)" VAULT_TOKEN=e2e-token >"$ws/.out5" 2>&1 || code=$?
[[ $code -eq $EXIT_EXTERNAL ]] || fail "unreachable Vault gave exit $code: $(cat "$ws/.out5")"
grep -q 'previous bundle is untouched' "$ws/.out5" || fail "no remedy for an unreachable Vault: $(cat "$ws/.out5")"
[[ "$(sha256sum "$ws/.env.linode")" == "$before" ]] || fail "a failed Vault run changed .env.linode"
if grep -qF e2e-token "$ws/.out5"; then fail "the Vault token was printed"; fi

# shellcheck disable=SC2016 # a literal template placeholder
printf 'A=${NO_SUCH_KEY}\n' > "$ws/configs/dev/e2e.env.tpl"
code=0; sync_script >"$ws/.out6" 2>&1 || code=$?
[[ $code -eq $EXIT_USAGE ]] || fail "an unresolved placeholder gave exit $code: $(cat "$ws/.out6")"
grep -qF "e2e.env.tpl:1: \${NO_SUCH_KEY}" "$ws/.out6" || fail "the placeholder is not listed: $(cat "$ws/.out6")"
[[ ! -e "$ws/.devenv/config/e2e.env" ]] || fail "a failed render wrote e2e.env"
ok "secrets-sync end-to-end"
