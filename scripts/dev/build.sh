#!/usr/bin/env bash
# Builds every workspace binary with the profile the scripts will run it from (lib.sh's
# cargo_profile): PROFILE=release builds all of them release; PROFILE=dev (the default) builds
# them dev, quick to build, except the ones the stack runs under load (STACK_OPTIMISED:
# mock-inference), which get the optimised `stack` profile.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${DEVENV_BIN_DIR:-}" ]]; then
  info "using prebuilt binaries in $DEVENV_BIN_DIR"
  exit 0
fi
args=(build --workspace --bins --quiet)
if [[ "$PROFILE" == release ]]; then
  args+=(--release)
else
  # shellcheck disable=SC2086 # a space-separated list of package names
  for pkg in $STACK_OPTIMISED; do args+=(--exclude "$pkg"); done
fi
cargo "${args[@]}" || die "$EXIT_FAILED" "cargo build failed" "read the compiler output above; \`cargo ${args[*]}\` reproduces it"
[[ "$PROFILE" == release ]] && exit 0
args=(build --profile stack --bins --quiet)
# shellcheck disable=SC2086
for pkg in $STACK_OPTIMISED; do args+=(-p "$pkg"); done
cargo "${args[@]}" || die "$EXIT_FAILED" "cargo build failed" "read the compiler output above; \`cargo ${args[*]}\` reproduces it"
