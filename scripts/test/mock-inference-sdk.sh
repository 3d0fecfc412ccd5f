#!/usr/bin/env bash
# End-to-end: the official `openai` and `anthropic` Python SDKs (pinned in the test venv) drive
# the built mock-inference binary: chat (streamed and not), completions, embeddings, models, tool
# calls, the Responses API, the Messages API and error handling. Starts the server on a free
# port, runs pytest over crates/mock-inference/tests/sdk, stops the server.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"

PYTHON="$(venv_python)" || exit
"$PYTHON" -c 'import openai, anthropic, pytest' 2>/dev/null \
  || die "$EXIT_USAGE" "the openai or anthropic SDK or pytest is missing from .devenv/venv" "run \`scripts/dev/setup.sh test\`"
build_bins mock-inference
server="$(bin mock-inference)"

workdir="$(mktemp -d)"
trap 'stop_tracked; rm -rf "$workdir"' EXIT

# Port 0: the kernel picks a free port; the startup line names it.
"$server" --host 127.0.0.1 --port 0 >"$workdir/stdout" 2>"$workdir/stderr" &
pid=$!
track_pid "$pid"
# Settled once it printed its address and answers /health there, or exited.
healthy_or_exited() {
  url="$(grep -o 'http://[0-9.:]*' "$workdir/stdout" 2>/dev/null | head -n1 || true)"
  { [[ -n "$url" ]] && curl -sf "$url/health" >/dev/null; } || ! kill -0 "$pid" 2>/dev/null
}
url=""
wait_until 10 healthy_or_exited || true
kill -0 "$pid" 2>/dev/null || die "$EXIT_FAILED" "mock-inference exited at startup: $(cat "$workdir/stderr")" "run it by hand: $server --port 0"
if [[ -z "$url" ]] || ! curl -sf "$url/health" >/dev/null; then
  die "$EXIT_TIMEOUT" "mock-inference did not become healthy" "read $workdir/stderr; run it by hand: $server --port 0"
fi

MOCK_INFERENCE_URL="$url" "$PYTHON" -m pytest -q -p no:cacheprovider crates/mock-inference/tests/sdk \
  || die "$EXIT_FAILED" "SDK tests against mock-inference failed" "rerun: bash scripts/test/mock-inference-sdk.sh"
ok "mock-inference: $("$PYTHON" -c 'import openai, anthropic; print(f"openai {openai.__version__}, anthropic {anthropic.__version__}")') SDKs drove chat, completions, embeddings, models, tools, Responses, Messages and errors"
