#!/usr/bin/env bash
# make parity: how does this laptop's environment differ from staging, and does it matter?
# Local = dev/compose.local.yaml (+ dev/compose.override.yaml when present) + the bundle;
# reference = configs/parity/staging.yaml, graded by configs/parity/rules.yaml with the expected
# differences of configs/parity/baseline.yaml accepted. config-diff keeps the JSON report in
# reports/config-diffs/ (<timestamp>.json and latest.json; the newest PARITY_KEEP, default 100);
# `config-diff history` lists them. FAIL_ON=minor|major|incompatible (default incompatible) sets
# when this exits 1; ARGS passes more flags (e.g. ARGS=--json).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"

config_diff="$(bin config-diff)"
bundle="$(bundle_path)"
[[ -f "$bundle" ]] || die "$EXIT_USAGE" "$bundle does not exist: the local side is interpolated from it" "run \`make secrets-sync\` first"
[[ -f dev/compose.local.yaml ]] || die "$EXIT_USAGE" "dev/compose.local.yaml is missing" "restore it from git (\`git checkout dev/compose.local.yaml\`)"

files=(-f dev/compose.local.yaml)
[[ -f dev/compose.override.yaml ]] && files+=(-f dev/compose.override.yaml)
fail_on="${FAIL_ON:-incompatible}"
case "$fail_on" in
  minor|major|incompatible) ;;
  *) die "$EXIT_USAGE" "FAIL_ON=$fail_on is not a severity" "use FAIL_ON=minor, major or incompatible" ;;
esac
keep="${PARITY_KEEP:-100}"
[[ "$keep" =~ ^[0-9]+$ ]] || die "$EXIT_USAGE" "PARITY_KEEP=$keep is not a number of reports" "use e.g. PARITY_KEEP=100"
# shellcheck disable=SC2206 # ARGS is a list of flags, split on purpose
extra=(${ARGS:-})

log_event parity_started "fail_on=$fail_on"
checked_run parity_finished \
  "parity: no differences at or above $fail_on (expected ones are in configs/parity/baseline.yaml)" \
  "parity: differences at or above $fail_on (listed above)" \
  "apply each recommendation, or accept an expected difference in configs/parity/baseline.yaml" \
  "parity: config-diff could not compare" \
  "$config_diff" diff "${files[@]}" --env-file "$bundle" configs/parity/staging.yaml \
  --rules configs/parity/rules.yaml --baseline configs/parity/baseline.yaml \
  --save-dir "$DEVENV_ROOT/reports/config-diffs" --keep "$keep" --fail-on "$fail_on" "${extra[@]}"
