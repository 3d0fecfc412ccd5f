#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, every crate's unit and integration tests
# (against real servers the harness starts), then the end-to-end scripts in scripts/test/.
# Leaves no process behind.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"
# The workflow stage follows the run (testing, then active_development or debugging) when `make
# up` brought this workspace's stack up; `devenv state test-started` leaves a fresh clone (no
# state file, nothing built yet) or a stopped/paused stack alone, so it never fails a run.
if devenv="$(bin_optional devenv)"; then
  "$devenv" state test-started --command "make test" >/dev/null \
    || warn "the workflow stage was not moved (the error above says why); the tests run anyway"
  test_finished() {
    local result=passed
    (($1 == 0)) || result=failed
    "$devenv" state test-finished --result "$result" --command "make test" >/dev/null || true
  }
  trap 'test_finished $?' EXIT
fi
# A fresh debug build of the workspace and its tests (clippy's too) takes ~2.7 GiB: a full disk
# otherwise fails deep inside rustc ("No space left on device") minutes into the run.
target_dir="${CARGO_TARGET_DIR:-$DEVENV_ROOT/target}"
probe="$target_dir"
while [[ ! -e "$probe" ]]; do probe="$(dirname "$probe")"; done
free_mb="$(df -Pm "$probe" | awk 'NR == 2 {print $4}')"
need_mb=3072
((free_mb >= need_mb)) || die "$EXIT_FAILED" "only $free_mb MiB free for $target_dir (the test build needs about $need_mb MiB)" \
  "free disk space: \`cargo clean\` here, or remove other clones' target/ directories"
# phase NAME — prints how long the previous phase took, so CI logs show where time goes.
phase() { printf '── %s (t+%ds)\n' "$1" "$SECONDS"; }
phase lint
"$DEVENV_ROOT/scripts/dev/lint.sh"
phase "cargo nextest"

cargo nextest run --workspace --all-features --no-fail-fast \
  || die "$EXIT_FAILED" "cargo tests failed" "rerun one with \`cargo nextest run -p <crate> <test name>\`"

phase "end-to-end scripts"
# The binaries nextest built for the integration tests above; the scripts use these instead of
# building their own (build_bins in lib.sh; a rebuild with other features would take a minute).
DEVENV_BIN_DIR="${CARGO_TARGET_DIR:-$DEVENV_ROOT/target}/debug"
export DEVENV_BIN_DIR
for b in devenv dev-status secrets-sync migrate-ledger mock-inference config-diff; do
  [[ -x "$DEVENV_BIN_DIR/$b" ]] && continue
  cargo build --quiet --workspace --bins --all-features \
    || die "$EXIT_FAILED" "cargo build failed" "run \`cargo build --workspace --all-features\`"
  break
done
# A script exits 77 when it cannot run here (e.g. it needs root): counted as skipped, not passed.
passed=0 failed=0 skipped=0 names=()
for t in scripts/test/*.sh; do
  [[ -e "$t" ]] || continue
  info "── $t (t+${SECONDS}s)"
  rc=0
  bash "$t" || rc=$?
  case "$rc" in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)); names+=("$t") ;;
  esac
done
# Harness processes carry "devenv-testkit" in their command line; none may outlive the run.
if pgrep -f devenv-testkit >/dev/null 2>&1; then
  pgrep -af devenv-testkit >&2 || true
  pkill -9 -f devenv-testkit || true
  failed=$((failed + 1)); names+=("leftover test processes")
fi
phase finished
if [[ -n "${DEVENV_CORPUS_DIR:-}" ]]; then
  info "suites: unit, integration, end-to-end, real-world corpus ($DEVENV_CORPUS_DIR)"
else
  info "suites: unit, integration, end-to-end; real-world corpus NOT run (set DEVENV_CORPUS_DIR to a corpus folder to run it)"
fi
echo "end-to-end: $passed passed, $failed failed, $skipped skipped"
((failed == 0)) || die "$EXIT_FAILED" "failed: ${names[*]}" "run the script alone: bash <script>"
