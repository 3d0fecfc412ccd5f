# shellcheck shell=bash
# Shared by scripts/test/lifecycle-*.sh (issue #18; named .bash because it is not a test itself,
# and scripts/dev/test.sh runs every *.sh): a scratch copy of the repository on free ports
# (scratch_workspace), the check helpers of lifecycle.sh, and clients that talk to the
# servers with the test's own tools (psql, redis-cli, curl), never through scripts/dev.
# Set NEEDS_BINS (default: dev-status secrets-sync devenv migrate-ledger) before sourcing it;
# it cds into the scratch workspace. Exit 77 = skipped.
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../dev/lib.sh
source "$SRC/scripts/dev/lib.sh"

export DEVENV_BIN_DIR="${DEVENV_BIN_DIR:-$SRC/target/debug}"
export NO_COLOR=1 DEVENV_RUNTIME=native
WORK="$(mktemp -d /tmp/devenv-e2e-XXXXXX)"
PASSED=0 FAILED=0

cleanup() {
  stop_tracked
  (cd "$WORK" && DEVENV_LOCK_TIMEOUT=30 make -s stop >/dev/null 2>&1) || true
  # Anything still running from the copy is a bug in stop; kill it so the run stays clean.
  pkill -9 -f "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$1"; [[ -n "${2:-}" ]] && printf '%s\n' "$2" | sed 's/^/        /'; return 0; }
check() { local name="$1"; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
# run_ok NAME CMD... / run_fails NAME CMD... — run a command, keep its output in $out, its code in $rc.
run_ok() { local name="$1"; shift; rc=0; out="$("$@" 2>&1)" || rc=$?; if ((rc == 0)); then pass "$name"; else fail "$name (exit $rc)" "$out"; fi; }
run_fails() { local name="$1"; shift; rc=0; out="$("$@" 2>&1)" || rc=$?; if ((rc != 0)); then pass "$name"; else fail "$name" "$out"; fi; }
finish() { echo "$1: $PASSED passed, $FAILED failed"; ((FAILED == 0)); }

for b in ${NEEDS_BINS:-dev-status secrets-sync devenv migrate-ledger}; do
  [[ -x "$DEVENV_BIN_DIR/$b" ]] || die "$EXIT_USAGE" "$b is not built in $DEVENV_BIN_DIR" "run \`cargo build --workspace --bins --all-features\` first"
done

scratch_workspace "$WORK"
# From here on the binaries must find the copy, not this checkout.
unset DEVENV_ROOT DEVENV_CORRELATION_ID SERVICE
cd "$WORK"

devenv() { "$DEVENV_BIN_DIR/devenv" "$@"; }
bundle_get() { sed -n "s/^$1=//p" .env.local | tr -d "'\""; }
pid_file() { head -n1 ".devenv/run/$1.pid" 2>/dev/null; }
stage() { devenv state; }
psql_q() {
  PGPASSWORD="$(bundle_get POSTGRES_PASSWORD)" psql -X -q -A -t -h 127.0.0.1 -p "$(bundle_get POSTGRES_PORT)" \
    -U "$(bundle_get POSTGRES_USER)" -d "$(bundle_get POSTGRES_DB)" -c "$1"
}
redis_q() { REDISCLI_AUTH="$(bundle_get REDIS_PASSWORD)" redis-cli --no-auth-warning -h 127.0.0.1 -p "$(bundle_get REDIS_PORT)" "$@"; }
# s3_curl METHOD KEY [DATA] — a signed request for an object of the bundle's bucket; the
# credentials go through curl's config on stdin.
s3_curl() {
  local method="$1" key="$2" data=()
  [[ $# -ge 3 ]] && data=(--data-binary "$3")
  curl -sS -f -K - -X "$method" "$(bundle_get S3_ENDPOINT)/$(bundle_get S3_BUCKET)/$key" "${data[@]}" \
    --aws-sigv4 "aws:amz:$(bundle_get S3_REGION):s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    <<<"user = \"$(bundle_get S3_ACCESS_KEY):$(bundle_get S3_SECRET_KEY)\""
}
healthy() { "$DEVENV_BIN_DIR/dev-status" --quiet --skip rabbitmq "$@"; }
