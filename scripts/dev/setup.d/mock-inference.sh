# shellcheck shell=bash
# mock-inference: promtool (Debian's prometheus) lints /metrics in the tests; the official SDKs
# come with the test venv. Benchmarks: Go builds the seed's mock, wrk loads both. Fuzzing:
# cargo-fuzz.
if wants test; then
  need_apt "test: Prometheus tools (promtool lints /metrics)" promtool prometheus
fi
if wants bench; then
  need_apt "bench: mock-inference's load generator and Go peer" go golang-go
  need_apt "bench: mock-inference's load generator and Go peer" wrk wrk
fi
if wants fuzz; then
  need_cargo "fuzz: the fuzzer" cargo-fuzz cargo-fuzz@0.13.2 --locked
fi
