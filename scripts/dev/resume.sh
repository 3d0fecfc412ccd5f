#!/usr/bin/env bash
# make resume: continues a stack `make pause` froze: SIGCONT to every native service's process
# tree (`devenv pid signal cont`), `docker compose unpause` for the compose runtime; then the
# stage goes paused → ready. Continuing processes that are not stopped is harmless, so it always
# signals; a stage other than paused is left as it is. Holds the workspace's lifecycle lock.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
lifecycle_lock "make resume" "$0" "$@"
cd "$DEVENV_ROOT"
devenv="$(bin devenv)"
if [[ "$(runtime)" == compose ]]; then
  # shellcheck source=compose.sh
  source "$DEVENV_ROOT/scripts/dev/compose.sh"
  compose_each unpause compose_resumed "resumed" "run \`scripts/dev/compose.sh ps\`; \`make restart\` if a container is stuck"
else
  resumed="$("$devenv" pid signal cont)" \
    || die "$EXIT_FAILED" "no native service is running to resume" "run \`make up\`"
  log_event resumed "services=$(cut -d' ' -f1 <<<"$resumed" | paste -sd, -)"
fi
stage="$("$devenv" state)"
if [[ "$stage" == paused ]]; then
  set_stage ready "make resume"
  ok "resumed: the stack runs again (stage ready)"
else
  ok "resumed the processes; the stage stays $stage (it was not paused)"
fi
