#!/usr/bin/env bash
# make snapshot NAME=… / make restore NAME=… / make snapshots — `devenv snapshot` does the work
# (consistent per-service copies with a sha256 manifest under .devenv/snapshots/NAME/, verified
# before a restore touches anything: exit 3 when it does not match); this script holds the
# lifecycle lock and hands it scripts/dev/service.sh to stop and start one service at a time.
# Native runtime only for now.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
verb="${1:-}"
case "$verb" in
  create|restore)
    [[ -n "${NAME:-}" ]] || die "$EXIT_USAGE" "$verb needs a snapshot name" "run \`make ${verb/create/snapshot} NAME=before-upgrade\`"
    lifecycle_lock "make ${verb/create/snapshot} NAME=$NAME" "$0" "$@"
    ;;
  list) exec "$(bin devenv)" snapshot list "${@:2}" ;;
  *) die "$EXIT_USAGE" "unknown verb '$verb' for snapshot.sh" "use create, restore or list" ;;
esac
cd "$DEVENV_ROOT"
[[ "$(runtime)" == native ]] || die "$EXIT_USAGE" "snapshots cover the native runtime only" "use DEVENV_RUNTIME=native, or docker volume tools for compose"
ctl="$DEVENV_ROOT/scripts/dev/service.sh"
args=(snapshot "$verb" "$NAME" --ctl "$ctl")
[[ "$verb" == create && -n "${SERVICES:-}" ]] && args+=(--services "$SERVICES")
[[ "$verb" == create && "${FORCE:-0}" == 1 ]] && args+=(--force)
rc=0
"$(bin devenv)" "${args[@]}" || rc=$?
log_event "snapshot_$verb" "name=$NAME" "exit_code=$rc"
exit "$rc"
