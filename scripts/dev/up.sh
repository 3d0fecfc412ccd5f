#!/usr/bin/env bash
# make up: preflight → bundle (secrets-sync) → start whatever is not running → wait until healthy
# → bucket → migrations and seeds → summary. Idempotent: a second run starts nothing and says so.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=native.sh
source "$(dirname "$0")/native.sh"
cd "$DEVENV_ROOT"

RUNTIME="$(runtime)"
WAIT_TIMEOUT="${DEVENV_WAIT_TIMEOUT:-60}"
log_event up_started "runtime=$RUNTIME"

# fail CODE — records the failure in state and events, then exits with the step's own code.
fail() {
  local code="$1"
  log_event up_failed "exit_code=$code"
  set_stage failed "make up failed (exit $code)" 2>/dev/null || true
  exit "$code"
}

info "preflight"
"$(bin dev-status)" preflight --human || fail $?

info "secrets: $(bundle_path)"
bundle_before="$(sha256sum "$(bundle_path)" 2>/dev/null || true)"
"$(bin secrets-sync)" --mode local --human || fail $?
bundle_after="$(sha256sum "$(bundle_path)" 2>/dev/null || true)"
load_bundle
set_stage provisioning "make up ($RUNTIME)"

info "services ($RUNTIME runtime)"
STARTED_SERVICES=()
if [[ "$RUNTIME" == compose ]]; then
  "$DEVENV_ROOT/scripts/dev/compose.sh" up || fail $?
else
  native_up
fi

# The bucket named in the bundle, through the S3 API itself (works for MinIO and s3s-fs alike),
# before the health wait (dev-status reports a missing bucket as misconfigured). S3 may still be
# binding its port: poll it, bounded by the wait timeout. Credentials go through curl's config
# on stdin, never on its command line.
wait_until "$WAIT_TIMEOUT" curl -s -o /dev/null --max-time 1 "$S3_ENDPOINT/" \
  || die "$EXIT_TIMEOUT" "S3 at $S3_ENDPOINT did not answer within ${WAIT_TIMEOUT}s" "see .devenv/logs/s3.log (\`make logs SERVICE=s3\`)"
code="$(curl -sS -o /dev/null -w '%{http_code}' -K - -X PUT "$S3_ENDPOINT/$S3_BUCKET" \
  --aws-sigv4 "aws:amz:${S3_REGION}:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  <<<"user = \"$S3_ACCESS_KEY:$S3_SECRET_KEY\"")" \
  || die "$EXIT_EXTERNAL" "could not reach S3 at $S3_ENDPOINT to create bucket $S3_BUCKET" "see .devenv/logs/s3.log"
case "$code" in
  200) info "  bucket $S3_BUCKET: created" ;;
  409) ;; # already exists (BucketAlreadyOwnedByYou)
  *) die "$EXIT_EXTERNAL" "creating bucket $S3_BUCKET answered HTTP $code" "check S3_ACCESS_KEY/S3_SECRET_KEY in $(bundle_path) and .devenv/logs/s3.log" ;;
esac

skip=(--skip rabbitmq)
bin_optional mock-inference >/dev/null || skip=(--skip "rabbitmq,mock_inference")
info "waiting for readiness (timeout ${WAIT_TIMEOUT}s)"
"$(bin dev-status)" --wait --timeout "$WAIT_TIMEOUT" --human "${skip[@]}" || fail $?

if [[ -x "$DEVENV_ROOT/scripts/dev/migrate.sh" ]] && bin_optional migrate-ledger >/dev/null; then
  info "migrations and seeds"
  "$DEVENV_ROOT/scripts/dev/migrate.sh" || fail $?
fi

set_stage ready "all services healthy"
if ((${#STARTED_SERVICES[@]} == 0)) && [[ "$bundle_before" == "$bundle_after" ]]; then
  ok "nothing to do: every service was already running and healthy"
  log_event up_finished "changed=false"
else
  ok "stack is up"
  log_event up_finished "changed=true" "started=${STARTED_SERVICES[*]}"
fi
# Every service with its URL, passwords masked by the one redactor.
"$(bin devenv)" summary --bundle "$(bundle_path)"
