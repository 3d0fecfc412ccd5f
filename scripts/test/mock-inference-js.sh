#!/usr/bin/env bash
# End-to-end: the official `openai` JavaScript SDK (pinned in scripts/dev/setup.d/mock-inference.sh,
# installed into .devenv/npm by `scripts/dev/setup.sh test`) drives the built mock-inference:
# a streamed chat completion (chunks reassembled, finish_reason checked) and the Responses API
# (`responses.create`, `responses.stream` with finalResponse()). Starts the server on a free
# port, runs node's test runner over crates/mock-inference/tests/js, stops it. Exits 77 (skipped)
# when the machine has no Node.js 20+, which setup does not install.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"

if ! node="$("$(bin devenv)" which node 2>/dev/null)"; then
  warn "skipped: Node.js is not installed; fix: install Node.js 20+ with npm (https://nodejs.org/en/download), then \`scripts/dev/setup.sh test\`"
  exit 77
fi
node_major="$("$node" -p 'process.versions.node.split(".")[0]')"
if ((node_major < 20)); then
  warn "skipped: Node.js $("$node" --version) is older than the openai SDK's 20; fix: install Node.js 20+ (https://nodejs.org/en/download), then \`scripts/dev/setup.sh test\`"
  exit 77
fi
SDK="$STATE_DIR/npm/node_modules"
[[ -f "$SDK/openai/package.json" ]] \
  || die "$EXIT_USAGE" "the openai JavaScript SDK is not installed in .devenv/npm" "run \`scripts/dev/setup.sh test\`"
build_bins mock-inference
server="$(bin mock-inference)"

workdir="$(mktemp -d)"
trap 'stop_tracked; rm -rf "$workdir"' EXIT

# Port 0: the kernel picks a free port and the startup line names it. Settled once that line
# is there and /health answers, or the server exited.
"$server" --host 127.0.0.1 --port 0 >"$workdir/server.stdout" 2>"$workdir/server.stderr" &
pid=$!
track_pid "$pid"
healthy_or_exited() {
  url="$(grep -o 'http://[0-9.:]*' "$workdir/server.stdout" 2>/dev/null | head -n1 || true)"
  { [[ -n "$url" ]] && curl -sf "$url/health" >/dev/null; } || ! kill -0 "$pid" 2>/dev/null
}
url=""
wait_until 10 healthy_or_exited || true
kill -0 "$pid" 2>/dev/null || die "$EXIT_FAILED" "mock-inference exited at startup: $(cat "$workdir/server.stderr")" "run it by hand: $server --port 0"
if [[ -z "$url" ]] || ! curl -sf "$url/health" >/dev/null; then
  die "$EXIT_TIMEOUT" "mock-inference did not become healthy" "read $workdir/server.stderr; run it by hand: $server --port 0"
fi

# CommonJS tests: NODE_PATH lets `require('openai')` find the project's copy of the SDK.
NODE_PATH="$SDK" MOCK_INFERENCE_URL="$url" "$node" --test crates/mock-inference/tests/js/*.test.cjs \
  || die "$EXIT_FAILED" "the openai JavaScript SDK tests against mock-inference failed" "rerun: bash scripts/test/mock-inference-js.sh"
ok "mock-inference: openai JavaScript SDK $("$node" -p "require('$SDK/openai/package.json').version") (Node.js $("$node" --version)) drove a streamed chat completion and the Responses API (create, stream + finalResponse)"
