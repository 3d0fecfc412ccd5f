#!/usr/bin/env bash
# scripts/dev/service.sh start|stop SERVICE — one native service, for `devenv snapshot` (its
# --ctl): stop keeps the data; start waits until the service is healthy. Run by a lifecycle
# command that already holds the lock (snapshot.sh); it takes the lock itself otherwise.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
lifecycle_lock "service.sh $*" "$0" "$@"
# shellcheck source=native.sh
source "$(dirname "$0")/native.sh"
cd "$DEVENV_ROOT"
verb="${1:-}" svc="${2:-}"
[[ -n "$svc" ]] || die "$EXIT_USAGE" "usage: service.sh start|stop SERVICE" "name a service: postgres redis nats s3 mock_inference"
SERVICE="$svc" service_args >/dev/null
load_bundle
case "$verb" in
  stop) stop_service "$svc" || info "  $svc: was not running" ;;
  start)
    native_up "$svc"
    "$(bin dev-status)" --wait --timeout "${DEVENV_WAIT_TIMEOUT:-60}" --quiet --only "$svc" \
      || die "$EXIT_FAILED" "$svc did not become healthy" "see \`make logs SERVICE=$svc\`"
    ;;
  *) die "$EXIT_USAGE" "unknown verb '$verb'" "use start or stop" ;;
esac
