#!/usr/bin/env bash
# make up: preflight → bundle (secrets-sync) → start whatever is not running → setup steps
# (bucket, readiness, migrations, seeds: each attempted even when one before failed, then a
# per-step summary; the exit code is the first failure's and the stage becomes `failed` naming
# the failed steps) → summary. Idempotent: a second run starts nothing and says so.
# SERVICE=redis[,postgres] starts only those and waits for their health (no setup steps); the
# stage is `ready` only once every service runs. Holds the workspace's lifecycle lock.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
lifecycle_lock "make up${SERVICE:+ SERVICE=$SERVICE}" "$0" "$@"
# shellcheck source=native.sh
source "$(dirname "$0")/native.sh"
cd "$DEVENV_ROOT"
services="$(service_args)" || exit
mapfile -t ONLY < <(printf '%s' "${services:+$services$'\n'}")

RUNTIME="$(runtime)"
WAIT_TIMEOUT="${DEVENV_WAIT_TIMEOUT:-60}"
# PROFILES=vault,rabbitmq (remembered for status, stop and logs; PROFILES=none drops them). The
# binaries read DEVENV_PROFILES: secrets-sync writes each profile's bundle keys.
DEVENV_PROFILES="$(active_profiles)" || exit
export DEVENV_PROFILES
record_profiles "$DEVENV_PROFILES"
log_event up_started "runtime=$RUNTIME" "profiles=$DEVENV_PROFILES"

# fail CODE — records the failure in state and events, then exits with the step's own code.
fail() {
  local code="$1"
  log_event up_failed "exit_code=$code"
  set_stage failed "make up failed (exit $code)" 2>/dev/null || true
  exit "$code"
}

info "preflight"
"$(bin dev-status)" preflight --human || fail $?

# The vault profile: the bundle comes from Vault through AppRole, so Vault runs, unsealed and set
# up (`secrets-sync vault-bootstrap`, idempotent), before the bundle is built. A first run has no
# bundle yet to take Vault's port and the credentials to store from: the generator writes one.
vault_first() {
  [[ -f "$(bundle_path)" ]] && grep -q '^VAULT_PORT=' "$(bundle_path)" \
    || VAULT_ADDR='' "$(bin secrets-sync)" --mode local --quiet || fail $?
  load_bundle
  info "vault ($RUNTIME runtime)"
  if [[ "$RUNTIME" == compose ]]; then
    "$DEVENV_ROOT/scripts/dev/compose.sh" up vault || fail $?
  else
    native_up vault
  fi
  VAULT_ADDR="http://127.0.0.1:$VAULT_PORT"
  "$(bin secrets-sync)" vault-bootstrap --vault-addr "$VAULT_ADDR" --human || fail $?
  VAULT_ROLE_ID="$(<"$STATE_DIR/vault/role-id")"
  export VAULT_ADDR VAULT_ROLE_ID VAULT_SECRET_ID_FILE="$STATE_DIR/vault/secret-id"
}

bundle_before="$(sha256sum "$(bundle_path)" 2>/dev/null || true)"
STARTED_SERVICES=()
has_profile vault && vault_first
info "secrets: $(bundle_path)"
"$(bin secrets-sync)" --mode local --human || fail $?
bundle_after="$(sha256sum "$(bundle_path)" 2>/dev/null || true)"
load_bundle
set_stage provisioning "make up ($RUNTIME)"

info "services ($RUNTIME runtime${DEVENV_PROFILES:+, profiles $DEVENV_PROFILES})"
if [[ "$RUNTIME" == compose ]]; then
  "$DEVENV_ROOT/scripts/dev/compose.sh" up "${ONLY[@]}" || fail $?
else
  vault_started=("${STARTED_SERVICES[@]}")
  for profile in $PROFILES_ALL; do
    [[ " $PROFILES_NATIVE " == *" $profile "* ]] || ! has_profile "$profile" \
      || warn "the $profile profile runs only in the compose runtime; skipped (DEVENV_RUNTIME=compose runs it)"
    # A profile dropped since the last `make up` (PROFILES=none…): its service goes too.
    [[ " $PROFILES_NATIVE " == *" $profile "* ]] && ! has_profile "$profile" && pid_of "$profile" >/dev/null \
      && stop_service "$profile"
  done
  native_up "${ONLY[@]}"
  STARTED_SERVICES=("${vault_started[@]}" "${STARTED_SERVICES[@]}")
fi

# The components make up waits for: the core, and each profile's when it is active.
skip=()
has_profile rabbitmq || skip+=(rabbitmq)
has_profile vault || skip+=(vault)
bin_optional mock-inference >/dev/null || skip+=(mock_inference)
if ((${#skip[@]})); then skip=(--skip "$(IFS=,; printf '%s' "${skip[*]}")"); fi

# One service (or a few): wait for their health only; the stage says whether the whole stack runs.
if ((${#ONLY[@]})); then
  only="$(IFS=,; printf '%s' "${ONLY[*]}")"
  info "waiting for $only (timeout ${WAIT_TIMEOUT}s)"
  "$(bin dev-status)" --wait --timeout "$WAIT_TIMEOUT" --human --only "$only" || fail $?
  missing=""
  [[ "$RUNTIME" == native ]] && missing="$(native_missing | paste -sd, -)"
  if [[ -z "$missing" ]]; then
    set_stage ready "make up SERVICE=$only: every service runs"
  else
    set_stage stopped "make up SERVICE=$only; not running: $missing"
  fi
  log_event up_finished "services=$only" "started=${STARTED_SERVICES[*]}"
  ok "$only: up${missing:+ (not running: $missing)}"
  exit 0
fi

# The bucket named in the bundle, created through the S3 API by dev-status (MinIO and s3s-fs
# alike), before the health wait (dev-status reports a missing bucket as misconfigured). It
# waits for a starting S3 server, bounded by the wait timeout.
step_bucket() {
  "$(bin dev-status)" bucket --human --timeout "$WAIT_TIMEOUT" --env-file "$(bundle_path)"
}

# The setup steps: each runs even when one before it failed (run_step, lib.sh).
step_readiness() {
  info "waiting for readiness (timeout ${WAIT_TIMEOUT}s)"
  "$(bin dev-status)" --wait --timeout "$WAIT_TIMEOUT" --human "${skip[@]}" \
    || die $? "not every service became healthy within ${WAIT_TIMEOUT}s" "\`make status\` names it; \`make logs SERVICE=name\` shows why"
}

# migrate-ledger STEP: migrations (up) or seeds (seed), each its own step.
step_ledger() {
  local rc=0 migrate_ledger
  migrate_ledger="$(bin migrate-ledger)"
  [[ -n "${DATABASE_URL:-}" ]] || die "$EXIT_USAGE" "$(bundle_path) has no DATABASE_URL" "rerun \`make secrets-sync\`"
  "$migrate_ledger" --dir "$DEVENV_ROOT/migrations" --wait-timeout "${MIGRATE_WAIT_TIMEOUT:-30s}" \
    --lock-timeout "${MIGRATE_LOCK_TIMEOUT:-120s}" "$1" || rc=$?
  ((rc == 0)) || die "$rc" "migrate-ledger $1 failed (exit $rc)" \
    "fix what is named above (file:line), then rerun \`make migrate\`; \`$migrate_ledger status\` shows the ledger"
}

run_step bucket step_bucket
run_step readiness step_readiness
if bin_optional migrate-ledger >/dev/null; then
  run_step migrations step_ledger up
  run_step seeds step_ledger seed
fi
step_summary
if ((STEP_FIRST_FAILURE != 0)); then
  log_event up_failed "exit_code=$STEP_FIRST_FAILURE" "failed_steps=${STEP_FAILED[*]}"
  set_stage failed "make up: setup steps failed: ${STEP_FAILED[*]}" 2>/dev/null || true
  exit "$STEP_FIRST_FAILURE"
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
