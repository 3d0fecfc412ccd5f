#!/usr/bin/env bash
# make restart [SERVICE=a,b]: stop, then up (the named services, or the whole stack), under one
# hold of the workspace's lifecycle lock; the data is kept.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
lifecycle_lock "make restart${SERVICE:+ SERVICE=$SERVICE}" "$0" "$@"
cd "$DEVENV_ROOT"
if [[ "$(runtime)" == compose ]]; then
  services="$(service_args)" || exit
  mapfile -t ONLY < <(printf '%s' "${services:+$services$'\n'}")
  exec "$DEVENV_ROOT/scripts/dev/compose.sh" restart "${ONLY[@]}"
fi
"$DEVENV_ROOT/scripts/dev/stop.sh"
exec "$DEVENV_ROOT/scripts/dev/up.sh"
