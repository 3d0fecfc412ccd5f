#!/usr/bin/env bash
# make stop: stops every service (SERVICE=redis[,nats] for those only) and keeps the data.
# A stack with some services stopped is not `ready`: the stage becomes `stopped`, its reason
# naming what was stopped and what still runs (`make up` brings it back to `ready`).
# Holds the workspace's lifecycle lock.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
lifecycle_lock "make stop${SERVICE:+ SERVICE=$SERVICE}" "$0" "$@"
# shellcheck source=native.sh
source "$(dirname "$0")/native.sh"
cd "$DEVENV_ROOT"
services="$(service_args)" || exit
mapfile -t ONLY < <(printf '%s' "${services:+$services$'\n'}")
if [[ "$(runtime)" == compose ]]; then
  "$DEVENV_ROOT/scripts/dev/compose.sh" stop "${ONLY[@]}"
else
  STOPPED_COUNT=0
  native_stop "${ONLY[@]}"
  ((STOPPED_COUNT > 0)) || info "nothing was running${ONLY[*]:+ of: ${ONLY[*]}}"
fi
stage="$("$(bin devenv)" state)"
if ((${#ONLY[@]})); then
  still=""
  [[ "$(runtime)" == native ]] && still="$(native_running | paste -sd, -)"
  [[ "$stage" == uninitialized ]] || set_stage stopped "make stop SERVICE=${ONLY[*]}${still:+; still running: $still}"
  log_event stopped "services=${ONLY[*]}"
  ok "stopped ${ONLY[*]}; data kept in .devenv/data"
  exit 0
fi
[[ "$stage" == uninitialized ]] || set_stage stopped "make stop"
log_event stopped
ok "stopped; data kept in .devenv/data"
