#!/usr/bin/env bash
# make secrets-sync: writes the bundle of MODE (local → .env.local, remote → .env.linode) from
# Vault when VAULT_ADDR is set (VAULT_TOKEN, or VAULT_ROLE_ID + VAULT_SECRET_ID_FILE /
# VAULT_SECRET_ID), else from the stable local generator; then renders configs/dev/*.env.tpl
# into .devenv/config/<service>.env. DRY_RUN=1 only lists the keys that would change.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

MODE="${MODE:-local}"
case "$MODE" in
  local|remote) ;;
  *) die "$EXIT_USAGE" "MODE=$MODE is not a mode" "use MODE=local or MODE=remote" ;;
esac
SYNC="$(bin secrets-sync)"
source_name=generator
[[ -n "${VAULT_ADDR:-}" ]] && source_name=vault
log_event secrets_sync_started "mode=$MODE" "source=$source_name"

args=(--mode "$MODE" --human)
[[ "${DRY_RUN:-0}" == 1 ]] && args+=(--dry-run)
rc=0
"$SYNC" "${args[@]}" || rc=$?
if ((rc != 0)); then
  case "$rc" in
    "$EXIT_USAGE") remedy="fix the input named above (configs/secrets.yaml, configs/ports.yaml, VAULT_* variables) and rerun \`make secrets-sync\`" ;;
    "$EXIT_INTEGRITY") remedy="make git ignore the bundle (.gitignore needs \`.env.*\`), then rerun" ;;
    "$EXIT_EXTERNAL") remedy="check VAULT_ADDR, your login (VAULT_TOKEN or the AppRole secret_id) and Vault's health; the previous bundle is untouched" ;;
    *) remedy="rerun with logging: $SYNC --mode $MODE -vv" ;;
  esac
  die "$rc" "secrets-sync --mode $MODE failed (exit $rc)" "$remedy"
fi
[[ "${DRY_RUN:-0}" == 1 ]] && exit 0

rc=0
"$SYNC" render --mode "$MODE" --human || rc=$?
((rc == 0)) || die "$rc" "rendering configs/dev/*.env.tpl from $(bundle_path) failed (exit $rc)" \
  "add the keys listed above to the bundle (configs/secrets.yaml) or drop them from the templates"
