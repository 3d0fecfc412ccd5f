#!/usr/bin/env bash
# Benchmark: mock-inference — the build `make up` runs (Cargo profile `stack`; BENCH_MOCK_PROFILE
# names another) — against the seed's Go mock and against floors, servers that do the least a
# server can (examples/chat_floor.rs, examples/stream_floor.rs), all in the same run.
#  1. wrk, 2 threads, 64 connections, POST /v1/chat/completions (non-streamed), alternating
#     rounds against the Go mock, mock-inference and chat_floor (a canned copy of
#     mock-inference's own answer, no parsing beyond the request's end). Goals, on the median
#     of the per-round ratios: ≥ 2.5× the Go mock's requests/s, ≥ 0.8× the floor's, p99
#     latency no worse than the Go mock's. Beside them: each server's own CPU per request
#     (from /proc), and the floor's ratio to the Go mock, the most any server reaches here.
#  2. 2,000 concurrent chat streams at 20 ms inter-token latency (examples/stream_load.rs), in
#     alternating rounds against mock-inference and stream_floor (pre-built events, one write
#     per token), so the run shows how much of the jitter is the machine's. Goals: p99 jitter
#     ≤ 1.2× the floor's (median of the per-round ratios), no lost tokens; ≤ 2 ms is printed
#     beside it. Jitter is timed by the kernel's receive timestamps (the server's, which a
#     load client sharing the cores cannot delay) and, beside it, at the client's reads; the
#     CPU per token of each side shows what the machine must give at the peak.
#  3. Half the streams (1,000) of each streaming API — chat, Responses
#     (response.output_text.delta events) and Anthropic Messages (content_block_delta) — and
#     of the floor, in alternating rounds. Goals: Responses and Messages p99 jitter ≤ 2 ms
#     (median round), no lost events; each also as a ratio to the floor's.
# Figures go to stdout and reports/bench/mock.json. Exits 1 when a goal is missed.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"

DURATION="${BENCH_DURATION:-10s}"
ROUNDS="${BENCH_ROUNDS:-5}"
STREAMS="${BENCH_STREAMS:-2000}"
STREAM_TOKENS="${BENCH_STREAM_TOKENS:-50}"
# Seven rounds: on a shared 2-core VM one round's p99 can be 0.3× or 3× the floor's for
# either server (a few-ms stall of the host lands in one of them), and a median of three
# followed those stalls.
STREAM_ROUNDS="${BENCH_STREAM_ROUNDS:-7}"
HALF_STREAMS=$((STREAMS / 2))
ITL_MS=20
# The seed's Go mock is not part of this repository: GO_MOCK_SRC names its source, else the
# corpus DEVENV_CORPUS_DIR names (go-mock/ inside it).
GO_MOCK_SRC="${GO_MOCK_SRC:-${DEVENV_CORPUS_DIR:+$DEVENV_CORPUS_DIR/go-mock}}"

command -v wrk >/dev/null || die "$EXIT_USAGE" "wrk is not installed" "run \`scripts/dev/setup.sh bench\`"
command -v go >/dev/null || die "$EXIT_USAGE" "go is not installed (it builds the seed's Go mock)" "run \`scripts/dev/setup.sh bench\`"
[[ -n "$GO_MOCK_SRC" ]] || die "$EXIT_USAGE" "the Go mock peer's source is not given (it is not part of this repository)" "set GO_MOCK_SRC to the directory holding its main.go, or DEVENV_CORPUS_DIR to a corpus with go-mock/"
[[ -f "$GO_MOCK_SRC/main.go" ]] || die "$EXIT_USAGE" "the seed's Go mock is not at $GO_MOCK_SRC (no main.go there)" "set GO_MOCK_SRC to the directory holding its main.go"
# The profile `make up` builds mock-inference with (lib.sh's cargo_profile under PROFILE=dev):
# the goals hold for what users run. The helpers share it, so they are optimised too.
MOCK_PROFILE="${BENCH_MOCK_PROFILE:-stack}"
build=(build --quiet --profile "$MOCK_PROFILE" -p mock-inference --bin mock-inference --example stream_load --example stream_floor --example chat_floor)
cargo "${build[@]}" || die "$EXIT_FAILED" "mock-inference does not build" "run \`cargo ${build[*]}\`"
out="${CARGO_TARGET_DIR:-$DEVENV_ROOT/target}/$MOCK_PROFILE"
[[ "$MOCK_PROFILE" == dev ]] && out="${out%/dev}/debug"
ours="$out/mock-inference"
loadgen="$out/examples/stream_load"
floor="$out/examples/stream_floor"
chat_floor="$out/examples/chat_floor"

# 2,000 streams need 2,000 sockets on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= STREAMS + 200 )) || die "$EXIT_USAGE" "open-file limit $(ulimit -n) is below $STREAMS streams" "raise it (ulimit -n) or lower BENCH_STREAMS"

# How busy the machine was before we started: jitter and tail latency mean little when other
# work holds the CPU. (Read now: our own load would count later.)
cpu_pressure="$(awk '/^some/ {sub("avg10=", "", $2); print $2}' /proc/pressure/cpu 2>/dev/null || echo null)"

work="$(mktemp -d)"
trap 'stop_tracked; rm -rf "$work"' EXIT

# The Go mock is built from a scratch copy: its code is not ours to keep.
cp -r "$GO_MOCK_SRC" "$work/go-mock"
(cd "$work/go-mock" && GOFLAGS=-mod=mod go build -o "$work/go-mock/go-mock" .) \
  || die "$EXIT_FAILED" "the Go mock does not build" "check \`go version\` (Debian's golang-go)"


# answers_or_exited URL PID — the server answers on URL, or its process is gone.
answers_or_exited() { curl -s -o /dev/null "$1" || ! kill -0 "$2" 2>/dev/null; }
wait_up() { # wait_up URL PATH PID NAME
  wait_until 10 answers_or_exited "$1$2" "$3" || die "$EXIT_TIMEOUT" "$4 did not answer on $1 within 10 s" "run it by hand to see why"
  kill -0 "$3" 2>/dev/null || die "$EXIT_FAILED" "$4 exited at startup" "run it by hand to see why"
}

go_port="$(free_port)"
GO_MOCK_ADDR="127.0.0.1:$go_port" "$work/go-mock/go-mock" &
go_pid=$!
track_pid "$go_pid"
wait_up "http://127.0.0.1:$go_port" /v1/chat/completions "$go_pid" "the Go mock"

CHAT_BODY='{"model":"mock-gpt","messages":[{"role":"user","content":"Hello, how are you today?"}]}'
cat >"$work/chat.lua" <<LUA
wrk.method = "POST"
wrk.body = '$CHAT_BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

# cpu_of PID → the process's user + system CPU seconds so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f\n", ($14 + $15) / hz}' "/proc/$1/stat"; }

# run_wrk URL PID → "RPS P99_MS CPU_US": CPU_US is the server's own CPU (user + system) per
# request. wrk shares this machine's cores, so requests/s also carry wrk's cost, the same for
# every server; the server's CPU per request is what it would be with wrk on other cores.
run_wrk() {
  local before after
  before="$(cpu_of "$2")"
  wrk -t2 -c64 -d"$DURATION" --latency -s "$work/chat.lua" "$1/v1/chat/completions" >"$work/wrk.out"
  after="$(cpu_of "$2")"
  if grep -q 'Non-2xx' "$work/wrk.out"; then
    die "$EXIT_FAILED" "wrk saw error responses from $1: $(cat "$work/wrk.out")" "check the request in $work/chat.lua"
  fi
  local rps p99 requests
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")"
  p99="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' "$work/wrk.out")"
  requests="$(awk '/ requests in / {print $1}' "$work/wrk.out")"
  printf '%s %s %s' "$rps" "$p99" "$(awk -v a="$before" -v b="$after" -v n="$requests" 'BEGIN {printf "%.2f", (b - a) * 1e6 / n}')"
}

# median COLUMN < "RPS P99 CPU_US" lines → the median of that column.
median() { awk -v c="$1" '{print $c}' | sort -g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

ours_port="$(free_port)"
"$ours" --host 127.0.0.1 --port "$ours_port" --quiet >"$work/ours.out" 2>"$work/ours.err" &
ours_pid=$!
track_pid "$ours_pid"
wait_up "http://127.0.0.1:$ours_port" /health "$ours_pid" "mock-inference"

# The floor answers with mock-inference's own answer to the same request: the same bytes on
# the wire, so the ratio is the cost of everything mock-inference does to produce them.
curl -sf -X POST -H 'Content-Type: application/json' -d "$CHAT_BODY" "http://127.0.0.1:$ours_port/v1/chat/completions" >"$work/chat-answer.json" \
  || die "$EXIT_FAILED" "mock-inference did not answer the benchmark's chat request" "run it by hand: $ours --port 8000, then POST $CHAT_BODY"
floor_port="$(free_port)"
"$chat_floor" "127.0.0.1:$floor_port" "$work/chat-answer.json" >"$work/chat-floor.out" 2>&1 &
floor_pid=$!
track_pid "$floor_pid"
wait_up "http://127.0.0.1:$floor_port" / "$floor_pid" "chat_floor"

# The three servers run side by side; rounds alternate so background load hits them alike.
info "wrk -t2 -c64 -d$DURATION POST /v1/chat/completions, $ROUNDS alternating rounds"
for port in "$go_port" "$ours_port" "$floor_port"; do
  wrk -t2 -c64 -d2s -s "$work/chat.lua" "http://127.0.0.1:$port/v1/chat/completions" >/dev/null
done
: >"$work/go.runs"
: >"$work/ours.runs"
: >"$work/floor.runs"
for round in $(seq "$ROUNDS"); do
  go_run="$(run_wrk "http://127.0.0.1:$go_port" "$go_pid")"
  our_run="$(run_wrk "http://127.0.0.1:$ours_port" "$ours_pid")"
  floor_run="$(run_wrk "http://127.0.0.1:$floor_port" "$floor_pid")"
  echo "$go_run" >>"$work/go.runs"
  echo "$our_run" >>"$work/ours.runs"
  echo "$floor_run" >>"$work/floor.runs"
  read -r g_rps g_p99 g_us <<<"$go_run"
  read -r o_rps o_p99 o_us <<<"$our_run"
  read -r f_rps f_p99 f_us <<<"$floor_run"
  info "  round $round: Go mock $g_rps req/s p99 $g_p99 ms, $g_us µs CPU/request | mock-inference $o_rps req/s p99 $o_p99 ms, $o_us µs | floor $f_rps req/s p99 $f_p99 ms, $f_us µs"
done
go_rps="$(median 1 <"$work/go.runs")"
go_p99="$(median 2 <"$work/go.runs")"
our_rps="$(median 1 <"$work/ours.runs")"
our_p99="$(median 2 <"$work/ours.runs")"
floor_rps="$(median 1 <"$work/floor.runs")"
floor_p99_lat="$(median 2 <"$work/floor.runs")"
go_us="$(median 3 <"$work/go.runs")"
our_us="$(median 3 <"$work/ours.runs")"
floor_us_req="$(median 3 <"$work/floor.runs")"
info "  median Go mock:        $go_rps req/s, p99 ${go_p99} ms, ${go_us} µs server CPU/request"
info "  median mock-inference: $our_rps req/s, p99 ${our_p99} ms, ${our_us} µs"
info "  median floor:          $floor_rps req/s, p99 ${floor_p99_lat} ms, ${floor_us_req} µs"
kill "$go_pid" "$ours_pid" "$floor_pid" 2>/dev/null || true
wait "$go_pid" "$ours_pid" "$floor_pid" 2>/dev/null || true

# The goals are judged on paired rounds: each round's runs are back to back, so the ratio
# within a round cancels background load that drifts between rounds; its median is the figure.
paste -d' ' "$work/ours.runs" "$work/go.runs" | awk '{printf "%.3f\n", $1 / $4}' >"$work/ratios"
paste -d' ' "$work/ours.runs" "$work/floor.runs" | awk '{printf "%.3f\n", $1 / $4}' >"$work/floor-ratios"
# Server CPU per request, the Go mock's over mock-inference's: the requests/s ratio without
# wrk's share of the same cores in it.
paste -d' ' "$work/go.runs" "$work/ours.runs" | awk '{printf "%.3f\n", $3 / $6}' >"$work/cpu-ratios"
paste -d' ' "$work/go.runs" "$work/floor.runs" | awk '{printf "%.3f\n", $4 / $1}' >"$work/floor-go-ratios"
cpu_ratio="$(median 1 <"$work/cpu-ratios")"
floor_go_ratio="$(median 1 <"$work/floor-go-ratios")"
ratio="$(median 1 <"$work/ratios")"
floor_ratio="$(median 1 <"$work/floor-ratios")"
ratio_of_medians="$(awk -v a="$our_rps" -v b="$go_rps" 'BEGIN {printf "%.2f", a / b}')"
floor_ratio_of_medians="$(awk -v a="$our_rps" -v b="$floor_rps" 'BEGIN {printf "%.2f", a / b}')"
rps_ok="$(awk -v r="$ratio" 'BEGIN {print (r >= 2.5) ? "yes" : "no"}')"
floor_rps_ok="$(awk -v r="$floor_ratio" 'BEGIN {print (r >= 0.8) ? "yes" : "no"}')"
p99_ok="$(awk -v a="$our_p99" -v b="$go_p99" 'BEGIN {print (a <= b) ? "yes" : "no"}')"
info "  per-round ratios to the Go mock: $(tr '\n' ' ' <"$work/ratios")(ratio of the medians ${ratio_of_medians}×)"
info "  per-round ratios to the floor:   $(tr '\n' ' ' <"$work/floor-ratios")(ratio of the medians ${floor_ratio_of_medians}×)"
info "  median ratio to the Go mock ${ratio}× (goal ≥ 2.5×: $rps_ok), to the floor ${floor_ratio}× (goal ≥ 0.8×: $floor_rps_ok); p99 no worse than the Go mock's: $p99_ok"
info "  the floor's own ratio to the Go mock: ${floor_go_ratio}× (no server can reach more here); server CPU per request, Go mock over mock-inference: ${cpu_ratio}×"

info "$STREAMS concurrent chat streams × $STREAM_TOKENS tokens at ${ITL_MS} ms inter-token latency"
ours_port="$(free_port)"
"$ours" --host 127.0.0.1 --port "$ours_port" --quiet --response-mode lorem --lorem-tokens $((STREAM_TOKENS + 20)) \
  --itl-ms "$ITL_MS" >"$work/ours.out" 2>"$work/ours.err" &
ours_pid=$!
track_pid "$ours_pid"
wait_up "http://127.0.0.1:$ours_port" /health "$ours_pid" "mock-inference"
floor_port="$(free_port)"
"$floor" "127.0.0.1:$floor_port" "$ITL_MS" "$STREAM_TOKENS" >"$work/floor.out" 2>&1 &
floor_pid=$!
track_pid "$floor_pid"
wait_up "http://127.0.0.1:$floor_port" / "$floor_pid" "stream_floor"
# json_get JSON a.b.c → that field.
json_get() {
  python3 -c 'import functools,json,sys; print(functools.reduce(lambda d, k: d[k], sys.argv[2].split("."), json.loads(sys.argv[1])))' "$1" "$2"
}
# us_per_token CPU_BEFORE CPU_AFTER STREAMS → µs of CPU per token of one round.
us_per_token() { awk -v a="$1" -v b="$2" -v t="$(($3 * STREAM_TOKENS))" 'BEGIN {printf "%.1f\n", (b - a) * 1e6 / t}'; }
# stream_round NAME PORT PID STREAMS API → one stream_load run; appends "wire_p99 read_p99
# server_us client_us lost" to $work/NAME.rounds and prints the run's JSON. lost counts lost
# tokens, incomplete streams and errors.
stream_round() {
  local before after json lost=0 field
  before="$(cpu_of "$3")"
  json="$("$loadgen" "127.0.0.1:$2" "$4" "$STREAM_TOKENS" "$ITL_MS" 1000 "$5")"
  after="$(cpu_of "$3")"
  for field in lost_tokens incomplete_streams errors; do
    lost=$((lost + $(json_get "$json" "$field")))
  done
  echo "$(json_get "$json" wire_jitter_ms.p99) $(json_get "$json" jitter_ms.p99) $(us_per_token "$before" "$after" "$4") $(us_per_token 0 "$(json_get "$json" cpu_s)" "$4") $lost" >>"$work/$1.rounds"
  echo "$json"
}
# sum COLUMN < lines → the column's total.
sum() { awk -v c="$1" '{n += $c} END {print n + 0}'; }
# div A B → A / B to two decimals (null when B is 0).
div() { awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) print "null"; else printf "%.2f\n", a / b}'; }
: >"$work/ours.rounds"
: >"$work/floor.rounds"
: >"$work/jitter-ratios"
for round in $(seq "$STREAM_ROUNDS"); do
  streams_json="$(stream_round ours "$ours_port" "$ours_pid" "$STREAMS" chat)"
  floor_json="$(stream_round floor "$floor_port" "$floor_pid" "$STREAMS" chat)"
  read -r ow or ocpu ccpu _ < <(tail -1 "$work/ours.rounds")
  read -r fw fr fcpu _ < <(tail -1 "$work/floor.rounds")
  div "$ow" "$fw" >>"$work/jitter-ratios"
  info "  round $round: p99 jitter at the socket (at the client's read): mock-inference $ow ($or) ms | floor $fw ($fr) ms, $(tail -1 "$work/jitter-ratios")×; CPU per token: mock-inference $ocpu µs, floor $fcpu µs, load client $ccpu µs"
done
info "  last mock-inference round: $streams_json"
# Where in the run the tail sits: p99 per 100 ms (ramp-up, the peak around 1 s, wind-down).
info "  p99 jitter at the socket per 100 ms of the last round: mock-inference $(json_get "$streams_json" wire_p99_ms_per_100ms)"
info "                                                          floor $(json_get "$floor_json" wire_p99_ms_per_100ms)"
lost="$(sum 5 <"$work/ours.rounds")"
jitter_p99="$(median 1 <"$work/ours.rounds")"
read_p99="$(median 2 <"$work/ours.rounds")"
floor_p99="$(median 1 <"$work/floor.rounds")"
floor_read_p99="$(median 2 <"$work/floor.rounds")"
ours_us="$(median 3 <"$work/ours.rounds")"
floor_us="$(median 3 <"$work/floor.rounds")"
client_us="$(median 4 <"$work/ours.rounds")"
# The goal is the server's jitter against the floor's in the same rounds: taken from the
# kernel's receive timestamps, which the load client's own scheduling on a shared machine
# cannot delay, and paired per round as wrk's ratios are. The client's read figure is printed
# beside it, and the absolute 2 ms, which at 2,000 streams on a small machine the floor itself
# may miss (see the cores figure below).
jitter_ratio="$(median 1 <"$work/jitter-ratios")"
jitter_ratio_ok="$(awk -v r="$jitter_ratio" 'BEGIN {print (r != "null" && r <= 1.2) ? "yes" : "no"}')"
jitter_ok="$(awk -v j="$jitter_p99" 'BEGIN {print (j <= 2.0) ? "yes" : "no"}')"
lost_ok="$([[ "$lost" == 0 ]] && echo yes || echo no)"
info "  median p99 jitter at the socket ${jitter_p99} ms (${read_p99} ms at the client's read), floor ${floor_p99} ms (${floor_read_p99} ms)"
info "  median per-round ratio to the floor ${jitter_ratio}× (goal ≤ 1.2×: $jitter_ratio_ok); ≤ 2 ms: $jitter_ok; nothing lost: $lost_ok"
# What the machine must give at the peak, when every stream is open: tokens/s × CPU per token
# of the server and the load client together.
cores="$(nproc)"
peak_tps=$((STREAMS * 1000 / ITL_MS))
ours_cores="$(awk -v t="$peak_tps" -v s="$ours_us" -v c="$client_us" 'BEGIN {printf "%.2f", t * (s + c) / 1e6}')"
floor_cores="$(awk -v t="$peak_tps" -v s="$floor_us" -v c="$client_us" 'BEGIN {printf "%.2f", t * (s + c) / 1e6}')"
info "  at the peak ($peak_tps tokens/s) server + load client need $ours_cores cores (floor: $floor_cores) of this machine's $cores"
if [[ "$jitter_ok" == no ]] && awk -v f="$floor_p99" 'BEGIN {exit !(f > 2.0)}'; then
  if awk -v need="$floor_cores" -v have="$cores" 'BEGIN {exit !(need >= 0.9 * have)}'; then
    warn "the floor server misses 2 ms too: the load client shares this machine's $cores cores and the peak needs $floor_cores of them even for the floor; measure with the load client on other cores"
  else
    warn "the floor server misses 2 ms too, with only $floor_cores of $cores cores needed at the peak: other work held the CPU (pressure ${cpu_pressure}% before the run); rerun on an idle machine"
  fi
fi

# Half the streams, where the machine has headroom: each streaming API of mock-inference (one
# server, as `make up` runs it) and the floor, alternating within each round.
HALF_APIS="chat responses messages"
info "$HALF_STREAMS concurrent streams (half) of each API × $STREAM_TOKENS tokens at ${ITL_MS} ms"
: >"$work/half-floor.rounds"
for api in $HALF_APIS; do : >"$work/half-$api.rounds"; done
for round in $(seq "$STREAM_ROUNDS"); do
  line="  round $round: p99 jitter at the socket:"
  for api in $HALF_APIS; do
    stream_round "half-$api" "$ours_port" "$ours_pid" "$HALF_STREAMS" "$api" >/dev/null
    read -r hw _ _ _ hl < <(tail -1 "$work/half-$api.rounds")
    line+=" $api $hw ms (lost $hl) |"
  done
  stream_round half-floor "$floor_port" "$floor_pid" "$HALF_STREAMS" chat >/dev/null
  line+=" floor $(tail -1 "$work/half-floor.rounds" | cut -d' ' -f1) ms"
  info "$line"
done
half_floor_p99="$(median 1 <"$work/half-floor.rounds")"
half_json_doc=""
half_ok=yes
for api in $HALF_APIS; do
  p99="$(median 1 <"$work/half-$api.rounds")"
  api_lost="$(sum 5 <"$work/half-$api.rounds")"
  api_ratio="$(div "$p99" "$half_floor_p99")"
  within="$(awk -v j="$p99" 'BEGIN {print (j <= 2.0) ? "yes" : "no"}')"
  # chat at half the streams is shown for comparison; Responses and Messages carry the goals.
  if [[ "$api" == chat ]]; then
    goal="(for comparison)"
  else
    goal="(goal ≤ 2 ms and nothing lost: $([[ "$within" == yes && "$api_lost" == 0 ]] && echo yes || echo no))"
    [[ "$within" == yes && "$api_lost" == 0 ]] || half_ok=no
  fi
  info "  $api: median p99 jitter ${p99} ms, ${api_ratio}× the floor's ${half_floor_p99} ms, lost $api_lost $goal"
  half_json_doc+="${half_json_doc:+,}\"$api\":{\"median_p99_jitter_ms\":$p99,\"ratio_to_floor\":$api_ratio,\"lost\":$api_lost,\"within_2ms\":$([[ "$within" == yes ]] && echo true || echo false)}"
done
info "  CPU pressure before the benchmark (some, avg10): ${cpu_pressure}% (near 0 on an idle machine)"

mkdir -p reports/bench
cat >reports/bench/mock.json <<JSON
{"schema_version":2,"kind":"bench.mock","mock_profile":"$MOCK_PROFILE","cpu_pressure_some_avg10":${cpu_pressure:-null},
"wrk":{"threads":2,"connections":64,"duration":"$DURATION","rounds":$ROUNDS,
"median":{"go_mock":{"requests_per_sec":$go_rps,"p99_ms":$go_p99},"mock_inference":{"requests_per_sec":$our_rps,"p99_ms":$our_p99},"floor":{"requests_per_sec":$floor_rps,"p99_ms":$floor_p99_lat}},
"ratio":$ratio,"ratio_of_medians":$ratio_of_medians,"ratio_to_floor":$floor_ratio,"ratio_to_floor_of_medians":$floor_ratio_of_medians,
"floor_ratio_to_go_mock":$floor_go_ratio,"cpu_us_per_request":{"go_mock":$go_us,"mock_inference":$our_us,"floor":$floor_us_req},"cpu_ratio_go_to_mock_inference":$cpu_ratio,
"goals":{"ratio_min":2.5,"ratio_to_floor_min":0.8,"met":$([[ "$rps_ok$floor_rps_ok$p99_ok" == yesyesyes ]] && echo true || echo false)}},
"streams":{"streams":$STREAMS,"tokens":$STREAM_TOKENS,"itl_ms":$ITL_MS,"rounds":$STREAM_ROUNDS,
"median_p99_jitter_ms":{"mock_inference":$jitter_p99,"floor":$floor_p99},"ratio_to_floor":$jitter_ratio,
"median_p99_jitter_at_client_read_ms":{"mock_inference":$read_p99,"floor":$floor_read_p99},
"cpu_us_per_token":{"mock_inference":$ours_us,"floor":$floor_us,"load_client":$client_us},"peak_cores_needed":{"mock_inference":$ours_cores,"floor":$floor_cores,"machine":$cores},
"lost":$lost,"goals":{"ratio_to_floor_max":1.2,"met":$([[ "$jitter_ratio_ok$lost_ok" == yesyes ]] && echo true || echo false)},"last_round":$streams_json},
"half":{"streams":$HALF_STREAMS,"rounds":$STREAM_ROUNDS,"floor_median_p99_jitter_ms":$half_floor_p99,$half_json_doc,
"goals":{"p99_jitter_ms_max":2.0,"apis":["responses","messages"],"met":$([[ "$half_ok" == yes ]] && echo true || echo false)}}}
JSON
log_event bench_mock "ratio=$ratio" "ratio_to_floor=$floor_ratio" "our_rps=$our_rps" "go_rps=$go_rps" "floor_rps=$floor_rps" \
  "jitter_p99_ms=$jitter_p99" "jitter_ratio_to_floor=$jitter_ratio" "lost=$lost"

if [[ "$rps_ok$floor_rps_ok$p99_ok$jitter_ratio_ok$lost_ok$half_ok" != yesyesyesyesyesyes ]]; then
  die "$EXIT_FAILED" "a mock-inference benchmark goal was missed (see above)" "profile the hot path (valgrind --tool=callgrind, or perf record) or rerun on an idle machine"
fi
ok "mock-inference ($MOCK_PROFILE): ${ratio}× the Go mock's requests/s and ${floor_ratio}× the floor's, p99 ${our_p99} vs ${go_p99} ms; $STREAMS chat streams p99 jitter ${jitter_ratio}× the floor's, $HALF_STREAMS Responses and Messages streams within 2 ms, nothing lost"
