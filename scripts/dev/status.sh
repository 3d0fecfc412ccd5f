#!/usr/bin/env bash
# `make status`: the health of every service as a table (dev-status --human) for the bundle
# of the current MODE. Exit codes are dev-status's: 0 healthy, 1 unhealthy, 2 bad config.
# Extra flags pass through: `scripts/dev/status.sh --only postgres`, `--wait --timeout 30`.
# A paused stack (`make pause`: its processes are stopped on purpose) is reported as paused, exit
# 0, instead of every probe timing out against a frozen server.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
status_bin="$(bin dev-status)"
if [[ "$("$(bin devenv)" state)" == paused ]]; then
  info "paused: the stack's processes are stopped on purpose (\`make pause\`); \`make resume\` continues them"
  exit 0
fi
# Through the environment, so that an --env-file given by the caller still wins. The health
# history (.devenv/health/) names who checked: `make status` unless the caller says otherwise.
DEVENV_TRIGGERED_BY="${DEVENV_TRIGGERED_BY:-make status}" \
  DEVENV_ENV_FILE="${DEVENV_ENV_FILE:-$(bundle_path)}" exec "$status_bin" --human "$@"
