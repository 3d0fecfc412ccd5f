#!/usr/bin/env bash
# Static checks: rustfmt, clippy with warnings denied, shellcheck on every script.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"
cargo fmt --all -- --check || die "$EXIT_FAILED" "code is not formatted" "run \`make fmt\`"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings \
  || die "$EXIT_FAILED" "clippy found problems" "fix the warnings above (\`cargo clippy --workspace --all-targets\`)"
# A dependency no code uses only slows every build.
machete="$(cargo machete 2>&1)" || { printf '%s\n' "$machete" >&2; false; } \
  || die "$EXIT_FAILED" "a crate declares a dependency it does not use (\`cargo machete\` lists them)" "remove it from that crate's Cargo.toml"
mapfile -t scripts < <(git ls-files -co --exclude-standard -- 'scripts/*.sh' 'scripts/**/*.sh' 'dev/*.sh' 'dev/**/*.sh' | sort -u)
shellcheck -x -P SCRIPTDIR "${scripts[@]}" || die "$EXIT_FAILED" "shellcheck found problems" "fix the findings above"
ok "lint: fmt, clippy, no unused dependencies, shellcheck clean (${#scripts[@]} scripts)"
