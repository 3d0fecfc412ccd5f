#!/usr/bin/env bash
# Runs every benchmark in scripts/bench/ (release builds, peers installed by setup --bench).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"
"$DEVENV_ROOT/scripts/dev/setup.sh" bench
PROFILE=release "$DEVENV_ROOT/scripts/dev/build.sh"
export PROFILE=release
# BENCH="up status" runs only those; every selected benchmark runs even when an earlier one
# misses its goal, and the summary names the misses.
only=" ${BENCH:-} "
missed=()
ran=0
for b in scripts/bench/*.sh; do
  name="$(basename "$b" .sh)"
  [[ "$only" != "  " && "$only" != *" $name "* ]] && continue
  info "── $b"
  ran=$((ran + 1))
  bash "$b" || missed+=("$name")
done
((ran > 0)) || die "$EXIT_USAGE" "BENCH=\"${BENCH:-}\" names no benchmark" "pick from: $(basename -s .sh scripts/bench/*.sh | tr '\n' ' ')"
((${#missed[@]} == 0)) || die "$EXIT_FAILED" "benchmarks that missed a goal or failed: ${missed[*]}" "run one alone: bash scripts/bench/<name>.sh"
ok "every benchmark met its goals"
