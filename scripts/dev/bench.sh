#!/usr/bin/env bash
# Runs every benchmark in scripts/bench/ (release builds, peers installed by setup --bench).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"
"$DEVENV_ROOT/scripts/dev/setup.sh" --bench
PROFILE=release "$DEVENV_ROOT/scripts/dev/build.sh"
export PROFILE=release
only="${BENCH:-}"
for b in scripts/bench/*.sh; do
  [[ -n "$only" && "$(basename "$b" .sh)" != "$only" ]] && continue
  info "── $b"
  bash "$b" || die "$EXIT_FAILED" "$b failed" "run it alone: bash $b"
done
