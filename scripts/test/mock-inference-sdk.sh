#!/usr/bin/env bash
# End-to-end: the official `openai` and `anthropic` Python SDKs (pinned in the test venv) drive
# the built mock-inference binary: chat (streamed and not), completions, embeddings, models, tool
# calls (several per turn), reasoning, logprobs, the Responses API, the Messages API (thinking
# blocks) and error handling (401 included). Starts two servers on free ports (one wanting an
# API key), runs pytest over crates/mock-inference/tests/sdk, stops them.
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

# start_server NAME ARGS… — mock-inference on a free port (port 0: the kernel picks it, the
# startup line names it); sets $url once it answers /health there.
start_server() {
  local name="$1" pid
  shift
  "$server" --host 127.0.0.1 --port 0 "$@" >"$workdir/$name.stdout" 2>"$workdir/$name.stderr" &
  pid=$!
  track_pid "$pid"
  # Settled once it printed its address and answers /health there, or exited.
  healthy_or_exited() {
    url="$(grep -o 'http://[0-9.:]*' "$workdir/$name.stdout" 2>/dev/null | head -n1 || true)"
    { [[ -n "$url" ]] && curl -sf "$url/health" >/dev/null; } || ! kill -0 "$pid" 2>/dev/null
  }
  url=""
  wait_until 10 healthy_or_exited || true
  kill -0 "$pid" 2>/dev/null || die "$EXIT_FAILED" "mock-inference ($name) exited at startup: $(cat "$workdir/$name.stderr")" "run it by hand: $server --port 0 $*"
  if [[ -z "$url" ]] || ! curl -sf "$url/health" >/dev/null; then
    die "$EXIT_TIMEOUT" "mock-inference ($name) did not become healthy" "read $workdir/$name.stderr; run it by hand: $server --port 0 $*"
  fi
}

# The main server (defaults, plus a reasoning model for the reasoning checks; the parallel
# tool-call checks ask for two calls per turn with the X-Mock-Tool-Calls header), and one that
# wants an API key (401 checks).
start_server main --reasoning-model mock-reasoner
main_url="$url"
start_server keyed --api-key sk-mock-key
keyed_url="$url"

MOCK_INFERENCE_URL="$main_url" MOCK_INFERENCE_KEYED_URL="$keyed_url" MOCK_INFERENCE_API_KEY=sk-mock-key \
  "$PYTHON" -m pytest -q -p no:cacheprovider crates/mock-inference/tests/sdk \
  || die "$EXIT_FAILED" "SDK tests against mock-inference failed" "rerun: bash scripts/test/mock-inference-sdk.sh"
ok "mock-inference: $("$PYTHON" -c 'import openai, anthropic; print(f"openai {openai.__version__}, anthropic {anthropic.__version__}")') SDKs drove chat, completions, embeddings, models, tools, Responses, Messages, reasoning, logprobs, parallel tool calls and errors (401 included)"
