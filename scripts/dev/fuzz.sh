#!/usr/bin/env bash
# Fuzzes mock-inference's request parsing with cargo-fuzz (libFuzzer, nightly toolchain).
# FUZZ_SECONDS (default 60) bounds the run; a crash leaves its input under
# crates/mock-inference/fuzz/artifacts/ and fails the run.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"
"$DEVENV_ROOT/scripts/dev/setup.sh" fuzz
command -v cargo-fuzz >/dev/null || die "$EXIT_USAGE" "cargo-fuzz is not installed" "run \`cargo install cargo-fuzz --locked\`"
cargo +nightly --version >/dev/null 2>&1 || die "$EXIT_USAGE" "the nightly toolchain is missing (cargo-fuzz needs it)" "run \`rustup toolchain install nightly\`"
seconds="${FUZZ_SECONDS:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || die "$EXIT_USAGE" "FUZZ_SECONDS=$seconds is not a number of seconds" "e.g. FUZZ_SECONDS=300 make fuzz"
cd crates/mock-inference/fuzz
# The fuzz crate has its own workspace and target dir: nightly + sanitizer builds stay out of target/.
info "fuzzing request parsing for ${seconds}s"
mkdir -p corpus/parse_request
cargo +nightly fuzz run parse_request corpus/parse_request seeds -- -max_total_time="$seconds" -max_len=8192 \
  || die "$EXIT_FAILED" "the fuzzer found a crash in request parsing" "reproduce: cd crates/mock-inference/fuzz && cargo +nightly fuzz run parse_request artifacts/parse_request/<file>"
ok "fuzz: request parsing survived ${seconds}s"
