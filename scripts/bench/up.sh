#!/usr/bin/env bash
# `make up` to all-healthy, native runtime, in a scratch copy on free ports:
#   warm = services stopped, data present;  cold = no data (first initdb).
# Goals (issue #2): warm ≤ 3 s, cold ≤ 12 s. Also `setup.sh --quick stack` when nothing changed
# (what every `make up` pays first; goal ≤ 50 ms), beside its floor: a bash that only starts.
# Medians from hyperfine; results also in target/bench/up.json.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
command -v hyperfine >/dev/null || die "$EXIT_USAGE" "hyperfine is not installed" "run \`scripts/dev/setup.sh bench\`"
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
hyperfine -N --style basic --warmup 3 --runs 50 --export-json "$RESULTS/setup-quick.json" \
  -n 'setup --quick (nothing changed)' 'scripts/dev/setup.sh --quick stack' \
  -n 'floor: bash starting' 'bash -c :'
python3 - "$RESULTS/up.json" "$RESULTS/setup-quick.json" <<'PY'
import json, sys
goals = {"make up (warm)": 3.0, "make up (cold, initdb)": 12.0, "setup --quick (nothing changed)": 0.05}
results = json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]
floor = next(r["median"] for r in results if r["command"].startswith("floor"))
for r in results:
    if r["command"] not in goals:
        continue
    goal = goals[r["command"]]
    if r["command"].startswith("setup"):
        print(f'{r["command"]:<32} median {r["median"] * 1000:.1f} ms = {r["median"] / floor:.1f}× the floor ({floor * 1000:.1f} ms)  goal ≤ 50 ms: {"meets" if r["median"] <= goal else "MISSES"}')
        continue
    verdict = "meets" if r["median"] <= goal else "MISSES"
    print(f'{r["command"]:<32} median {r["median"]:.2f} s  (min {r["min"]:.2f}, max {r["max"]:.2f})  goal ≤ {goal:.0f} s: {verdict}')
PY
