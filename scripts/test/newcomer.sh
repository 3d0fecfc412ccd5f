#!/usr/bin/env bash
# End-to-end, as a new user meets the project: a throwaway normal user with sudo gets a fresh
# copy of this working tree and, with PATH=/usr/local/bin:/usr/bin:/bin and the distribution's
# python3 (externally managed: it refuses pip installs), runs `make up` → every service healthy,
# `make status` → 0, `make stop`. Then a pid file pointing at an unrelated live process: `make
# stop` leaves that process alone and `make up` starts the service anyway.
#
# Asserts: nothing was pip-installed outside .devenv/venv (no ~/.local/lib/python*, the system
# interpreter's package list unchanged); no secret value of the bundle (nor the seeded admin's
# password) in any output. Needs root to create the user (CI runs as root); removes the user and
# every process it started.
#
# The user gets this machine's Rust toolchain (hard links, as if rustup had installed it) and,
# to keep CI short, the binaries `cargo build` made here (DEVENV_BIN_DIR) and s3s-fs in its
# ~/.cargo/bin. NEWCOMER_COLD=1 gives it neither: `make up` then builds and `cargo install`s
# everything as that user, from nothing (what the closing-note figures time).
# NEWCOMER_PROFILES=vault,rabbitmq runs the same day with those profiles.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"

if ((EUID != 0)); then
  info "newcomer: skipped (creating a throwaway user needs root; CI runs it)"
  exit 77
fi
for cmd in useradd userdel runuser sudo; do
  command -v "$cmd" >/dev/null || die "$EXIT_USAGE" "$cmd is not installed" "run \`scripts/dev/setup.sh test\`"
done
[[ -x /usr/bin/python3 ]] || die "$EXIT_USAGE" "the distribution's /usr/bin/python3 is missing" "apt-get install python3"
rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
rustup_bin="$(command -v rustup)" || die "$EXIT_USAGE" "rustup is not installed here, so the test user cannot be given Rust" "install Rust with rustup"

USER_NAME="devenv-nc-$$"
HOME_DIR="/home/$USER_NAME"
SUDOERS="/etc/sudoers.d/$USER_NAME"
FAILS=0
cleanup() {
  pkill -KILL -u "$USER_NAME" 2>/dev/null || true
  # Processes run as `postgres` under root cannot exist here (the user is not root), but a
  # stopped stack may still hold the user's files open for a moment: wait for the table.
  wait_until 10 bash -c "! pgrep -u '$USER_NAME' >/dev/null" || true
  userdel -r "$USER_NAME" >/dev/null 2>&1 || rm -rf "$HOME_DIR"
  rm -f "$SUDOERS"
}
trap cleanup EXIT
check() {
  local what="$1"; shift
  if "$@"; then ok "newcomer: $what"; else printf 'FAIL newcomer: %s\n' "$what" >&2; FAILS=$((FAILS + 1)); fi
}

useradd -m -s /bin/bash "$USER_NAME"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$USER_NAME" > "$SUDOERS"
chmod 0440 "$SUDOERS"

# Rust as rustup installs it for a user: ~/.rustup and ~/.cargo/bin (hard links: no copy, and
# the user cannot change this machine's toolchain through them).
mkdir -p "$HOME_DIR/.cargo/bin"
cp -al "$rustup_home" "$HOME_DIR/.rustup"
cp "$rustup_bin" "$HOME_DIR/.cargo/bin/rustup"
for proxy in cargo rustc rustfmt cargo-clippy clippy-driver; do ln -s rustup "$HOME_DIR/.cargo/bin/$proxy"; done

tree="$HOME_DIR/devenv"
mkdir -p "$tree"
scratch_workspace "$tree"
user_env=(env -i "HOME=$HOME_DIR" "USER=$USER_NAME" "LOGNAME=$USER_NAME" "PATH=/usr/local/bin:/usr/bin:/bin"
  "LANG=C.UTF-8" "NO_COLOR=1" "DEVENV_RUNTIME=native")
# NEWCOMER_PROFILES=vault,rabbitmq: the same day with the optional profiles (their servers run
# as the user too; setup installs OpenBao into the user's venv).
if [[ -n "${NEWCOMER_PROFILES:-}" ]]; then
  user_env+=("PROFILES=$NEWCOMER_PROFILES")
fi
if [[ "${NEWCOMER_COLD:-0}" != 1 ]]; then
  build_bins devenv dev-status secrets-sync migrate-ledger mock-inference config-diff
  mkdir -p "$HOME_DIR/bin"
  for b in devenv dev-status secrets-sync migrate-ledger mock-inference config-diff; do cp "$(bin "$b")" "$HOME_DIR/bin/"; done
  s3s="$("$(bin devenv)" which s3s-fs)" || die "$EXIT_USAGE" "s3s-fs is not installed here" "run \`scripts/dev/setup.sh stack\`"
  cp "$s3s" "$HOME_DIR/.cargo/bin/"
  user_env+=("DEVENV_BIN_DIR=$HOME_DIR/bin")
fi
chown -R "$USER_NAME:" "$HOME_DIR/devenv" "$HOME_DIR/.cargo" "$HOME_DIR/bin" 2>/dev/null || chown -R "$USER_NAME:" "$HOME_DIR/devenv" "$HOME_DIR/.cargo"

# as_user STEP CMD... — runs CMD as the user in the tree; output kept in $work/STEP.out.
work="$HOME_DIR/.newcomer"
mkdir -p "$work"
as_user() {
  local step="$1"; shift
  local rc=0
  # shellcheck disable=SC2016 # $1 and $@ belong to the inner bash
  runuser -u "$USER_NAME" -- "${user_env[@]}" bash -c 'cd "$1" && shift && exec "$@"' _ "$tree" "$@" \
    >"$work/$step.out" 2>&1 </dev/null || rc=$?
  printf '%s' "$rc" > "$work/$step.rc"
  return "$rc"
}
python_packages() { /usr/bin/python3 -c 'import importlib.metadata as m; print("\n".join(sorted(d.metadata["Name"] + "==" + d.version for d in m.distributions())))'; }
packages_before="$(python_packages)"

start=$SECONDS
check "make up as a normal user: exit 0 (see below on failure)" as_user up make up \
  || sed 's/^/    /' "$work/up.out" >&2
info "  make up took $((SECONDS - start))s:"
sed 's/^/    | /' "$work/up.out"
check "make up: every service healthy" grep -q "stack is up\|nothing to do" "$work/up.out"
check "preflight found every native binary (nats-server is in /usr/sbin, off the user's PATH)" \
  bash -c "grep -Eq 'nats-server +✓ /' '$work/up.out' && grep -Eq 'initdb +✓ /' '$work/up.out' && ! grep -q '✗ missing' '$work/up.out'"
check "make status: exit 0" as_user status make status || sed 's/^/    /' "$work/status.out" >&2
check "make stop: exit 0" as_user stop make stop || sed 's/^/    /' "$work/stop.out" >&2

# A pid file left pointing at an unrelated live process (pid reuse after a reboot): recorded
# with another start time, as a stale file would be.
runuser -u "$USER_NAME" -- sleep 600 &
disown
wait_until 5 pgrep -u "$USER_NAME" -x sleep || die "$EXIT_FAILED" "the stand-in process did not start" "rerun"
stranger="$(pgrep -u "$USER_NAME" -x sleep | head -n1)"
printf '%s\nstart_time 1\nexe /usr/bin/redis-server\n' "$stranger" > "$tree/.devenv/run/redis.pid"
chown "$USER_NAME:" "$tree/.devenv/run/redis.pid"
check "make stop with a stale pid file: exit 0" as_user stop2 make stop
check "make stop left the unrelated process alone" kill -0 "$stranger"
check "make up with a stale pid file: exit 0" as_user up2 make up || sed 's/^/    /' "$work/up2.out" >&2
check "make up started redis (a new pid, not the stranger's)" \
  bash -c "[[ \"\$(head -n1 '$tree/.devenv/run/redis.pid')\" != '$stranger' ]] && grep -q 'redis: started' '$work/up2.out'"
check "the unrelated process is still alive" kill -0 "$stranger"
as_user stop3 make stop || true

check "nothing pip-installed into the user site (~/.local/lib/python*)" \
  bash -c "! compgen -G '$HOME_DIR/.local/lib/python*' >/dev/null"
check "the system interpreter's package list is unchanged" test "$packages_before" == "$(python_packages)"

# No secret value of the bundle, nor the admin password, in any output.
mapfile -t secrets < <(grep -hE '^[A-Z0-9_]*(PASSWORD|SECRET|TOKEN)[A-Z0-9_]*=|^[A-Z0-9_]*_KEY=' \
  "$tree/.env.local" "$tree/.devenv/admin-credentials.env" 2>/dev/null | grep -v '^S3_ACCESS_KEY=' \
  | sed -E "s/^[^=]*=//; s/^'(.*)'\$/\\1/; s/^\"(.*)\"\$/\\1/" | awk 'length($0) >= 8')
check "the bundle has secrets to look for (${#secrets[@]})" test "${#secrets[@]}" -ge 4
leaked=0
for value in "${secrets[@]}"; do
  if grep -rqF -- "$value" "$work"/*.out; then leaked=$((leaked + 1)); fi
done
check "no secret value in any output" test "$leaked" -eq 0
check "the admin password went to a 0600 file" test "$(stat -c %a "$tree/.devenv/admin-credentials.env" 2>/dev/null)" == 600

kill "$stranger" 2>/dev/null || true
((FAILS == 0)) || die "$EXIT_FAILED" "newcomer: $FAILS check(s) failed" "rerun: bash scripts/test/newcomer.sh"
ok "newcomer: make up / status / stop as a normal user with the distribution's Python"
