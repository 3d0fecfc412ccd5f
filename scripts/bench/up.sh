#!/usr/bin/env bash
# `make up` to all-healthy, native runtime, in a scratch copy on free ports:
#   warm = services stopped, data present;  cold = no data (first initdb).
# Goals (issue #2): warm ≤ 3 s, cold ≤ 12 s. Medians from hyperfine; results also in
# target/bench/up.json.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
command -v hyperfine >/dev/null || die "$EXIT_USAGE" "hyperfine is not installed" "run \`make setup\` (or apt-get install hyperfine)"
WORK="$(mktemp -d /tmp/devenv-bench-up-XXXXXX)"
RESULTS="$DEVENV_ROOT/target/bench"
export DEVENV_BIN_DIR="${DEVENV_BIN_DIR:-$(bin_dir)}" DEVENV_RUNTIME=native NO_COLOR=1
cleanup() { (cd "$WORK" && make -s stop >/dev/null 2>&1) || true; pkill -9 -f "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
scratch_workspace "$WORK"
# From here on the binaries must find the copy, not this checkout.
unset DEVENV_ROOT DEVENV_CORRELATION_ID
mkdir -p "$RESULTS"
cd "$WORK"
make -s up >/dev/null   # first run: bundle, credentials, build check
RUNS="${RUNS:-5}"
hyperfine --style basic --runs "$RUNS" \
  --export-json "$RESULTS/up.json" \
  --prepare 'make -s stop >/dev/null' -n 'make up (warm)' 'make -s up >/dev/null' \
  --prepare 'FORCE=1 make -s reset >/dev/null' -n 'make up (cold, initdb)' 'make -s up >/dev/null'
python3 - "$RESULTS/up.json" <<'PY'
import json, sys
goals = {"make up (warm)": 3.0, "make up (cold, initdb)": 12.0}
for r in json.load(open(sys.argv[1]))["results"]:
    goal = goals[r["command"]]
    verdict = "meets" if r["median"] <= goal else "MISSES"
    print(f'{r["command"]:<24} median {r["median"]:.2f} s  (min {r["min"]:.2f}, max {r["max"]:.2f})  goal ≤ {goal:.0f} s: {verdict}')
PY
