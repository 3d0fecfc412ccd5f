#!/usr/bin/env bash
# make logs: tails the service logs (SERVICE=name for one; FOLLOW=0 prints and exits; LINES=N).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"
if [[ "$(runtime)" == compose ]]; then
  exec "$DEVENV_ROOT/scripts/dev/compose.sh" logs ${SERVICE:+"$SERVICE"}
fi
LOG_DIR="$STATE_DIR/logs"
if [[ -n "${SERVICE:-}" ]]; then
  files=("$LOG_DIR/$SERVICE.log")
  [[ -f "${files[0]}" ]] || die "$EXIT_USAGE" "no log for service '$SERVICE'" "pick one of: $(find "$LOG_DIR" -maxdepth 1 -name '*.log' -printf '%f ' 2>/dev/null | sed 's/\.log / /g')"
else
  shopt -s nullglob
  files=("$LOG_DIR"/*.log)
  ((${#files[@]})) || die "$EXIT_USAGE" "no logs yet in $LOG_DIR" "run \`make up\` first"
fi
follow=(-F)
[[ "${FOLLOW:-1}" == 0 || ! -t 1 ]] && follow=()
exec tail -n "${LINES:-100}" "${follow[@]}" "${files[@]}"
