#!/usr/bin/env bash
# Applies the platform migrations, then the seed data (`make migrate`; `scripts/dev/up.sh` calls
# it once the stack is healthy). Idempotent and quick: with nothing pending it reads the ledger
# and exits. Connection details come from the bundle (DATABASE_URL, MOCK_INFERENCE_MODEL).
# MIGRATE_WAIT_TIMEOUT / MIGRATE_LOCK_TIMEOUT tune how long to wait for a starting database
# and for a concurrent run's lock.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"

load_bundle
[[ -n "${DATABASE_URL:-}" ]] || die "$EXIT_USAGE" "$(bundle_path) has no DATABASE_URL" "rerun \`make secrets-sync\`"
migrate_ledger="$(bin migrate-ledger)"
args=(--dir "$DEVENV_ROOT/migrations" --wait-timeout "${MIGRATE_WAIT_TIMEOUT:-30s}" --lock-timeout "${MIGRATE_LOCK_TIMEOUT:-120s}")

# migrate-ledger's own error says what went wrong and how to fix it (file:line:column, the
# repair command, the stack to start): the script only passes its exit code on.
for step in up seed; do
  rc=0
  "$migrate_ledger" "${args[@]}" "$step" || rc=$?
  ((rc == 0)) || die "$rc" "migrate-ledger $step failed (exit $rc)" "follow the fix in migrate-ledger's message above; \`$migrate_ledger status\` shows the ledger"
done
log_event migrate_done
ok "migrations and seed data are up to date"
