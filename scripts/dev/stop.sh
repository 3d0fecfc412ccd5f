#!/usr/bin/env bash
# make stop: stops every service and keeps the data.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=native.sh
source "$(dirname "$0")/native.sh"
cd "$DEVENV_ROOT"
if [[ "$(runtime)" == compose ]]; then
  "$DEVENV_ROOT/scripts/dev/compose.sh" stop
else
  STOPPED_COUNT=0
  native_stop
  ((STOPPED_COUNT > 0)) || info "nothing was running"
fi
stage="$("$(bin devenv)" state)"
[[ "$stage" == uninitialized ]] || set_stage stopped "make stop"
log_event stopped
ok "stopped; data kept in .devenv/data"
