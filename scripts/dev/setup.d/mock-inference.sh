# shellcheck shell=bash
# mock-inference's needs, sourced by scripts/dev/setup.sh (which defines need_*).
# Tests: the official openai SDK + pytest (scripts/test/mock-inference-sdk.sh) and promtool
# (Debian's prometheus package) to lint /metrics. Benchmarks: Go builds the seed's mock.
# Fuzzing (`make fuzz`, FUZZ=1): cargo-fuzz; it runs on the nightly toolchain.
need_pip openai openai
need_pip pytest pytest
need_apt promtool prometheus
if [[ "${BENCH:-0}" == 1 ]]; then
  need_apt go golang-go
  need_apt wrk wrk
fi
if [[ "${FUZZ:-0}" == 1 ]]; then
  need_cargo cargo-fuzz cargo-fuzz --locked
fi
