#!/usr/bin/env bash
# Builds every workspace binary with the PROFILE the scripts will run (dev or release).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
if [[ -n "${DEVENV_BIN_DIR:-}" ]]; then
  info "using prebuilt binaries in $DEVENV_BIN_DIR"
  exit 0
fi
args=(build --workspace --bins --quiet)
[[ "$PROFILE" == release ]] && args+=(--release)
cargo "${args[@]}" || die "$EXIT_FAILED" "cargo build failed" "read the compiler output above; \`cargo build\` reproduces it"
