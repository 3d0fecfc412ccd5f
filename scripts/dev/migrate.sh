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

remedy() {
  case "$1" in
    "$EXIT_USAGE") echo "fix the migration files or flags named above, then rerun \`make migrate\`" ;;
    "$EXIT_INTEGRITY") echo "an applied file changed: restore it (git diff migrations/) or accept it with \`$migrate_ledger repair --accept FILE\`" ;;
    "$EXIT_TIMEOUT") echo "PostgreSQL did not answer or another run holds the lock: check \`make status\`, then rerun \`make migrate\`" ;;
    "$EXIT_EXTERNAL") echo "PostgreSQL refused the connection: start the stack with \`make up\` or rerun \`make secrets-sync\`" ;;
    *) echo "fix the failing file named above (file:line:column), then rerun \`make migrate\`; \`$migrate_ledger status\` shows the ledger" ;;
  esac
}

for step in up seed; do
  rc=0
  "$migrate_ledger" "${args[@]}" "$step" || rc=$?
  ((rc == 0)) || die "$rc" "migrate-ledger $step failed (exit $rc)" "$(remedy "$rc")"
done
log_event migrate_done
ok "migrations and seed data are up to date"
