# shellcheck shell=bash
# mock-inference: promtool (Debian's prometheus) lints /metrics in the tests; the official Python
# SDKs come with the test venv, the official `openai` JavaScript SDK goes into .devenv/npm
# (scripts/test/mock-inference-js.sh). Benchmarks: Go builds the seed's mock, wrk loads both.
# Fuzzing: cargo-fuzz.
# 6.x: the newest line that runs on Node.js 20 (7.x wants Node.js 22).
OPENAI_JS_VERSION=6.30.1
if wants test; then
  need_apt "test: Prometheus tools (promtool lints /metrics)" promtool prometheus
  # Node.js and npm are the machine's (setup installs no JavaScript runtime; Debian 12's and
  # Ubuntu 24.04's are older than the SDK's Node.js 20): without them the JS SDK test is
  # skipped, and this says how to get them.
  node_major="$(have node && "$("$DEVENV_BIN" which node)" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if ((node_major >= 20)) && have npm; then
    # need_npm looks for a command: the SDK's own CLI stands for the package, and any version
    # but the pinned one counts as missing.
    openai_js="$STATE_DIR/npm/node_modules/.bin/openai"
    grep -qs "\"version\": \"$OPENAI_JS_VERSION\"" "$STATE_DIR/npm/node_modules/openai/package.json" \
      || openai_js="openai-js-$OPENAI_JS_VERSION-not-installed"
    need_npm "test: the official openai JavaScript SDK (drives mock-inference)" "$openai_js" "openai@$OPENAI_JS_VERSION"
  else
    warn "Node.js 20 or later with npm is not installed (node: $( ((node_major)) && echo "version $node_major" || echo missing)): the openai JavaScript SDK test (scripts/test/mock-inference-js.sh) will be skipped; install Node.js 20+ with npm (https://nodejs.org/en/download, or your distribution's nodejs and npm packages where they are 20+), then rerun \`make setup PURPOSE=test\`"
  fi
fi
if wants bench; then
  need_apt "bench: mock-inference's load generator and Go peer" go golang-go
  need_apt "bench: mock-inference's load generator and Go peer" wrk wrk
fi
if wants fuzz; then
  need_cargo "fuzz: the fuzzer" cargo-fuzz cargo-fuzz@0.13.2 --locked
fi
