# shellcheck shell=bash
# Shared helpers for scripts/dev/*.sh. Source it; it sets strict mode, the workspace paths,
# the correlation id every binary inherits, and the runtime (compose or native).
set -euo pipefail

DEVENV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export DEVENV_ROOT
STATE_DIR="$DEVENV_ROOT/.devenv"
# One id per user command; the binaries pick it up, so events of one `make up` correlate.
DEVENV_CORRELATION_ID="${DEVENV_CORRELATION_ID:-$(cat /proc/sys/kernel/random/uuid)}"
export DEVENV_CORRELATION_ID
PROFILE="${PROFILE:-dev}"
SCRIPT_NAME="$(basename "${0%.sh}")"

# cargo itself (rustup puts it in ~/.cargo/bin, which a login shell may not have on PATH yet) and
# the npm tools setup installs into .devenv/npm. Every other program is found with `tool`.
[[ -d "$HOME/.cargo/bin" && ":$PATH:" != *":$HOME/.cargo/bin:"* ]] && PATH="$PATH:$HOME/.cargo/bin"
[[ -d "$STATE_DIR/npm/node_modules/.bin" ]] && PATH="$PATH:$STATE_DIR/npm/node_modules/.bin"
export PATH

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  C_RED=$'\e[31m' C_GREEN=$'\e[32m' C_YELLOW=$'\e[33m' C_OFF=$'\e[0m'
else
  C_RED='' C_GREEN='' C_YELLOW='' C_OFF=''
fi

info() { printf '%s\n' "$*"; }
ok() { printf '%s✓%s %s\n' "$C_GREEN" "$C_OFF" "$*"; }
warn() { printf '%swarning:%s %s\n' "$C_YELLOW" "$C_OFF" "$*" >&2; }

# die CODE MESSAGE REMEDY — every error says how to fix it.
die() {
  local code="$1" message="$2" remedy="${3:-}"
  printf '%serror:%s %s\n' "$C_RED" "$C_OFF" "$message" >&2
  [[ -n "$remedy" ]] && printf '  fix: %s\n' "$remedy" >&2
  log_event "${SCRIPT_NAME}_failed" "message=$message" || true
  exit "$code"
}

# Exit codes (same meaning as devenv-core's exit module).
readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_INTEGRITY=3 EXIT_TIMEOUT=4 EXIT_EXTERNAL=5
export EXIT_FAILED EXIT_USAGE EXIT_INTEGRITY EXIT_TIMEOUT EXIT_EXTERNAL

# log_event EVENT [key=value ...] — appends to .devenv/events.jsonl through `devenv event`: one
# schema for every event (numbers as numbers, actor, correlation id), one redactor, one key rule.
# Before the first build there is no devenv to record with; the event is skipped.
log_event() {
  local devenv
  devenv="$(bin_optional devenv)" || return 0
  USER="${USER:-$(id -un)}" "$devenv" event "$1" --source "scripts/$SCRIPT_NAME" "${@:2}" >/dev/null 2>&1 || true
}

# bin NAME — path of a built workspace binary (make build puts it there; DEVENV_BIN_DIR
# points elsewhere, e.g. the end-to-end tests reuse the checkout's build).
bin() {
  local path
  path="$(bin_optional "$1")" || die "$EXIT_USAGE" "$1 is not built (looked in $(bin_dir "$1"))" "run \`make build\`"
  printf '%s' "$path"
}

# The binaries the stack runs under load (load tests point at the mock): built with Cargo's
# `stack` profile (optimised; root Cargo.toml) even when PROFILE=dev. A debug mock-inference
# serves about a fifth of the optimised one's requests/s; the rest stay dev, quick to build.
STACK_OPTIMISED="mock-inference"

# cargo_profile [NAME] — the Cargo profile binary NAME is built with (without NAME: the others').
cargo_profile() {
  if [[ "$PROFILE" == release ]]; then printf release
  elif [[ -n "${1:-}" && " $STACK_OPTIMISED " == *" $1 "* ]]; then printf stack
  else printf dev
  fi
}

# build_bins PACKAGE... — builds those packages' binaries with the PROFILE, unless DEVENV_BIN_DIR
# names prebuilt ones (make test builds the workspace once, with the features its tests use, and
# sets it: each script's own `cargo build -p` would resolve features differently and rebuild).
build_bins() {
  [[ -n "${DEVENV_BIN_DIR:-}" ]] && return 0
  local pkg profile args
  # One cargo run per profile (stack-optimised packages apart from the rest).
  for profile in release dev stack; do
    args=(build --quiet --bins --profile "$profile")
    for pkg in "$@"; do [[ "$(cargo_profile "$pkg")" == "$profile" ]] && args+=(-p "$pkg"); done
    [[ "${args[*]}" == *" -p "* ]] || continue
    cargo "${args[@]}" || die "$EXIT_FAILED" "cargo build of $* failed" "run \`cargo ${args[*]}\` and fix the errors"
  done
}

# bin_dir [NAME] — where binary NAME is (without NAME: the dev or release binaries).
bin_dir() {
  if [[ -n "${DEVENV_BIN_DIR:-}" ]]; then printf '%s' "$DEVENV_BIN_DIR"; return; fi
  local dir
  dir="$(cargo_profile "${1:-}")"
  # Cargo's dev profile writes to target/debug; every other profile to target/<profile>.
  [[ "$dir" == dev ]] && dir=debug
  printf '%s' "${CARGO_TARGET_DIR:-$DEVENV_ROOT/target}/$dir"
}

# bin_optional NAME — like bin, but exits 1 quietly when the binary is not built.
bin_optional() {
  local path
  path="$(bin_dir "$1")/$1"
  [[ -x "$path" ]] || return 1
  printf '%s' "$path"
}

# tool NAME — where program NAME is installed: `devenv which`, the one lookup (PATH, /usr/sbin,
# /usr/lib/postgresql/<major>/bin, ~/.cargo/bin) that dev-status' preflight uses too.
# Use as: path="$(tool NAME)" || exit
tool() {
  "$(bin devenv)" which "$1" 2>/dev/null && return 0
  die "$EXIT_USAGE" "$1 is not installed (looked in PATH, /usr/sbin, /usr/lib/postgresql/*/bin, ~/.cargo/bin)" "run \`make setup\`"
}

# venv_python — the project venv's interpreter (.devenv/venv, made by `make setup` for the test and
# bench tools). Python tools never run from the system interpreter, which refuses pip installs.
venv_python() {
  local python="$STATE_DIR/venv/bin/python"
  [[ -x "$python" ]] || die "$EXIT_USAGE" "the project venv $STATE_DIR/venv does not exist" "run \`scripts/dev/setup.sh test\` (make test does it)"
  printf '%s' "$python"
}

# set_stage STAGE REASON — moves the workflow state (.devenv/state.json) through devenv-core.
set_stage() {
  "$(bin devenv)" state set "$1" --reason "$2" >/dev/null
}

# runtime — compose when a Docker engine answers, else native (DEVENV_RUNTIME overrides).
runtime() {
  case "${DEVENV_RUNTIME:-auto}" in
    compose|native) printf '%s' "$DEVENV_RUNTIME" ;;
    auto) if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then printf compose; else printf native; fi ;;
    *) die "$EXIT_USAGE" "DEVENV_RUNTIME=${DEVENV_RUNTIME} is not a runtime" "use auto, compose or native" ;;
  esac
}

# bundle_path — the bundle of the current mode, by devenv-core's one rule (MODE, else
# DEVENV_MODE, else local) that every binary follows too.
bundle_path() { "$(bin devenv)" mode --bundle; }

# load_bundle — exports the bundle's keys into this shell (secrets-sync quotes for `source`).
load_bundle() {
  local path
  path="$(bundle_path)"
  [[ -f "$path" ]] || die "$EXIT_USAGE" "$path does not exist" "run \`make secrets-sync\` (or \`make up\`)"
  set -a
  # shellcheck disable=SC1090
  . "$path"
  set +a
  # Remote bundles expire (secrets-sync sets DEVENV_EXPIRES_AT 24 h ahead): `secrets-sync
  # check-expiry` prints the same warning (with its remedy) as every Rust consumer; keep going.
  local sync
  [[ -n "${DEVENV_EXPIRES_AT:-}" ]] || return 0
  if sync="$(bin_optional secrets-sync)"; then
    "$sync" check-expiry --bundle "$path" --quiet || true
  else
    warn "$path is valid until $DEVENV_EXPIRES_AT and secrets-sync is not built to check it; run \`make build\`"
  fi
}

# wait_until SECONDS CMD... — polls CMD every 50 ms until it succeeds; exit 1 after SECONDS.
# A readiness check for things that have no event to wait on (a port, an HTTP answer).
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# track_pid PID — a background process this script started; stop_tracked (call it from the
# script's EXIT trap) stops and reaps every one.
TRACKED_PIDS=()
track_pid() { TRACKED_PIDS+=("$1"); }
stop_tracked() {
  local pid
  for pid in "${TRACKED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${TRACKED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# free_port [N] — N (default 1) distinct loopback ports nothing listens on, one per line, from
# below the kernel's ephemeral range, where no bind(0) or outgoing connection takes them before
# their server binds (`devenv free-ports`, the one rule, which the Rust tests' ports follow too).
free_port() {
  local devenv
  devenv="$(bin_optional devenv)" || { build_bins devenv; devenv="$(bin devenv)"; }
  "$devenv" free-ports "${1:-1}"
}

# scratch_workspace DIR — a copy of this checkout's tracked tree (what a fresh clone has) as its
# own git work tree, with configs/ports.yaml on free ports, for end-to-end tests and benchmarks
# that must not touch the developer's own stack.
scratch_workspace() {
  local dir="$1" names ports
  (cd "$DEVENV_ROOT" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$dir"
  git -C "$dir" init -q
  chmod 755 "$dir" # mktemp makes it 0700; the postgres user must reach .devenv/data (see native.sh)
  # Every name configs/ports.yaml declares (the one list devenv-core checks it against), each on
  # its own port.
  mapfile -t names < <(sed -n 's/^\([a-z0-9_]*\):.*/\1/p' "$DEVENV_ROOT/configs/ports.yaml")
  mapfile -t ports < <(free_port "${#names[@]}")
  ((${#ports[@]} == ${#names[@]})) || die "$EXIT_FAILED" "found ${#ports[@]} of ${#names[@]} free ports" \
    "stop leftover test servers (\`make stop\` in their workspaces)"
  paste -d ' ' <(printf '%s:\n' "${names[@]}") <(printf '%s\n' "${ports[@]}") > "$dir/configs/ports.yaml"
}

# lifecycle_lock LABEL "$0" "$@" — one lifecycle command at a time per workspace: re-runs the
# calling script under `devenv lock` (flock on .devenv/lifecycle.lock, holder recorded beside it;
# a second command waits, saying who holds it; DEVENV_LOCK_TIMEOUT seconds, default 300, then
# exit 4). Scripts run by a lock holder (restart → stop + up) see DEVENV_LOCK_HELD and go on.
lifecycle_lock() {
  local label="$1"; shift
  [[ -n "${DEVENV_LOCK_HELD:-}" ]] && return 0
  local devenv
  if devenv="$(bin_optional devenv)"; then
    exec "$devenv" lock --label "$label" -- "$@"
  fi
  # Not built yet (a first `make stop`): util-linux flock, same file, same timeout.
  mkdir -p "$STATE_DIR"
  export DEVENV_LOCK_HELD=1
  flock -w "${DEVENV_LOCK_TIMEOUT:-300}" -E "$EXIT_TIMEOUT" "$STATE_DIR/lifecycle.lock" "$@"
  exit $?
}

# The optional profiles (DESIGN, "Runtimes and profiles"): PROFILES=vault,rabbitmq adds their
# services in either runtime; the native runtime runs vault and rabbitmq, the compose file all.
PROFILES_ALL="vault rabbitmq timescale observability"
PROFILES_NATIVE="vault rabbitmq"
PROFILES_FILE="$STATE_DIR/profiles"

# active_profiles — the profiles in effect, comma-separated: PROFILES when given (empty or `none`
# for no profile), else what the last `make up` recorded (record_profiles), else none. So
# `make status`, `make stop` and `make logs` cover what `make up PROFILES=…` started.
active_profiles() {
  local list name kept=()
  if [[ -n "${PROFILES+set}" ]]; then list="$PROFILES"; else list="$(cat "$PROFILES_FILE" 2>/dev/null || true)"; fi
  IFS=', ' read -r -a names <<<"$list"
  for name in "${names[@]}"; do
    [[ -z "$name" || "$name" == none ]] && continue
    [[ " $PROFILES_ALL " == *" $name "* ]] \
      || die "$EXIT_USAGE" "PROFILES=$list: '$name' is not a profile" "use some of: ${PROFILES_ALL// /,} (PROFILES=none for none)"
    [[ " ${kept[*]} " == *" $name "* ]] || kept+=("$name")
  done
  (IFS=,; printf '%s' "${kept[*]}")
}

# has_profile NAME — NAME is among the active profiles.
has_profile() { [[ ",$(active_profiles)," == *",$1,"* ]]; }

# record_profiles LIST — what `make up` started, for the commands after it.
record_profiles() { mkdir -p "$STATE_DIR" && printf '%s\n' "$1" >"$PROFILES_FILE"; }

# service_args — the services named by SERVICE (comma separated, native names; mock-inference and
# minio are accepted too), one per line; nothing when SERVICE is empty. Unknown names: exit 2.
service_args() {
  local list="${SERVICE:-}" name known="postgres redis nats s3 mock_inference $PROFILES_NATIVE"
  [[ -n "$list" ]] || return 0
  IFS=',' read -r -a names <<<"$list"
  for name in "${names[@]}"; do
    name="${name// /}"
    case "$name" in
      mock-inference) name=mock_inference ;;
      minio) name=s3 ;;
      "") continue ;;
    esac
    [[ " $known " == *" $name "* ]] || die "$EXIT_USAGE" "SERVICE=$list: '$name' is not a service" "use one or more of: ${known// /,}"
    printf '%s\n' "$name"
  done
}

# run_step NAME CMD... — one of make up's setup steps: runs CMD in a subshell (a `die` inside ends
# the step, not the script), times it and records ✓/✗ with the error's first line and remedy for
# step_summary. STEP_FIRST_FAILURE keeps the first failing step's exit code; STEP_FAILED its name.
STEP_LINES=() STEP_FAILED=() STEP_FIRST_FAILURE=0
run_step() {
  local name="$1"; shift
  local errfile started rc=0 ms first remedy
  errfile="$(mktemp)"
  started="${EPOCHREALTIME/./}"
  ( "$@" ) 2>"$errfile" || rc=$?
  ms=$(((${EPOCHREALTIME/./} - started) / 1000))
  cat "$errfile" >&2
  if ((rc == 0)); then
    STEP_LINES+=("$(printf '%s✓%s %-12s %6.1fs' "$C_GREEN" "$C_OFF" "$name" "$((ms / 100))e-1")")
  else
    # The first `error:` line (else the first line) and the first `fix:` line, colours stripped.
    first="$(sed 's/\x1b\[[0-9;]*m//g' "$errfile" | grep -m1 '^error:' | sed 's/^error: *//')" || true
    [[ -n "$first" ]] || first="$(sed 's/\x1b\[[0-9;]*m//g' "$errfile" | grep -m1 -v '^[[:space:]]*$')" || true
    remedy="$(grep -m1 '^ *fix:' "$errfile" | sed 's/^ *fix: *//')" || true
    STEP_LINES+=("$(printf '%s✗%s %-12s %6.1fs  %s' "$C_RED" "$C_OFF" "$name" "$((ms / 100))e-1" "${first:-exit $rc}")")
    [[ -n "$remedy" ]] && STEP_LINES+=("$(printf '                         fix: %s' "$remedy")")
    STEP_FAILED+=("$name")
    ((STEP_FIRST_FAILURE != 0)) || STEP_FIRST_FAILURE=$rc
  fi
  log_event step_finished "step=$name" "exit_code=$rc" "duration_ms=$ms"
  rm -f "$errfile"
  return 0
}

# step_summary — prints every step's line (run_step).
step_summary() {
  local line
  info "setup steps"
  for line in "${STEP_LINES[@]}"; do info "  $line"; done
}

# checked_run EVENT PASSED FAILED FIX UNABLE CMD... — runs a checking binary (config-diff…) and
# exits as it answers: 0 prints PASSED; 1 dies EXIT_FAILED with FAILED and FIX; any other code
# dies with that code ("UNABLE (exit N)": the input named above is at fault). Records EVENT with
# the exit code either way.
checked_run() {
  local event="$1" passed="$2" failed="$3" fix="$4" unable="$5" rc
  shift 5
  set +e
  "$@"
  rc=$?
  set -e
  log_event "$event" "exit_code=$rc"
  case "$rc" in
    0) ok "$passed" ;;
    1) die "$EXIT_FAILED" "$failed" "$fix" ;;
    *) die "$rc" "$unable (exit $rc)" "fix the file named in the error above" ;;
  esac
}
