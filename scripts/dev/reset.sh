#!/usr/bin/env bash
# make reset: stops the stack and wipes .devenv/data (credentials and logs are kept) and the vault
# profile's keys in .devenv/vault (they open only the storage that goes with them).
# Asks first; FORCE=1 skips the question (and is required without a terminal). Holds the
# workspace's lifecycle lock.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
lifecycle_lock "make reset" "$0" "$@"
cd "$DEVENV_ROOT"
if [[ "${FORCE:-0}" != 1 ]]; then
  [[ -t 0 ]] || die "$EXIT_USAGE" "reset needs confirmation and there is no terminal to ask on" "run \`FORCE=1 make reset\`"
  read -r -p "This deletes every database, queue and object in .devenv/data. Type 'yes' to continue: " answer
  [[ "$answer" == yes ]] || die "$EXIT_USAGE" "reset cancelled" "type yes, or run \`FORCE=1 make reset\`"
fi
"$DEVENV_ROOT/scripts/dev/stop.sh"
if [[ "$(runtime)" == compose ]]; then
  "$DEVENV_ROOT/scripts/dev/compose.sh" reset
fi
rm -rf "$STATE_DIR/data" "$STATE_DIR/run" "$STATE_DIR/vault"
set_stage uninitialized "make reset"
log_event reset
ok "reset: .devenv/data wiped; \`make up\` starts from scratch"
