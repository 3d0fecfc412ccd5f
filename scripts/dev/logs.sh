#!/usr/bin/env bash
# make logs: every service's log, interleaved live, each line prefixed with its service (coloured
# on a terminal, plain under NO_COLOR or a pipe) — `devenv logs` does it. SERVICE=a,b filters;
# SINCE=10m or LINES=N start further back; FOLLOW=0 prints and exits. The compose runtime gives
# the same shape through `docker compose logs`.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"
services="$(service_args)" || exit
if [[ "$(runtime)" == compose ]]; then
  mapfile -t ONLY < <(printf '%s' "${services:+$services$'\n'}")
  exec "$DEVENV_ROOT/scripts/dev/compose.sh" logs "${ONLY[@]}"
fi
args=(logs --follow "${FOLLOW:-1}")
[[ -n "$services" ]] && args+=(--service "${services//$'\n'/,}")
[[ -n "${SINCE:-}" ]] && args+=(--since "$SINCE")
[[ -n "${LINES:-}" ]] && args+=(--lines "$LINES")
exec "$(bin devenv)" "${args[@]}"
