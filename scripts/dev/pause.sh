#!/usr/bin/env bash
# make pause: freezes the running stack without stopping it: SIGSTOP to every native service's
# process tree (`devenv pid signal stop`), `docker compose pause` for the compose runtime. The
# stage becomes `paused` first (`devenv state set` refuses it, exit 2, unless the stack is ready,
# active_development, testing or debugging), so a refused pause freezes nothing. `make resume`
# continues it. Holds the workspace's lifecycle lock.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
lifecycle_lock "make pause" "$0" "$@"
cd "$DEVENV_ROOT"
devenv="$(bin devenv)"
[[ "$("$devenv" state)" != paused ]] || { ok "already paused; \`make resume\` continues the stack"; exit 0; }
set_stage paused "make pause ($(runtime))"
if [[ "$(runtime)" == compose ]]; then
  # shellcheck source=compose.sh
  source "$DEVENV_ROOT/scripts/dev/compose.sh"
  compose_each pause compose_paused "paused" "run \`make resume\`, then \`scripts/dev/compose.sh ps\`"
else
  frozen="$("$devenv" pid signal stop)" \
    || die "$EXIT_FAILED" "no native service is running to pause" "run \`make resume\` to clear the stage, then \`make up\`"
  log_event paused "services=$(cut -d' ' -f1 <<<"$frozen" | paste -sd, -)"
  ok "paused: $(cut -d' ' -f1 <<<"$frozen" | paste -sd' ' -) (processes stopped, memory kept); \`make resume\` continues"
fi
