#!/usr/bin/env bash
# The systemd units of remote workspaces (dev/systemd/) pass `systemd-analyze verify` with no
# finding at all, inside a scratch root that mirrors the host the StackScript builds:
# /opt/devenv is this checkout's files (so a unit naming a repo file that does not exist fails),
# /usr/local/bin holds the release binaries' names, /usr/lib/systemd/system the OS units.
# Also: every service restarts on failure and carries the hardening options; every timer has its
# service; the verifier does catch a bad unit (negative controls).
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"
command -v systemd-analyze >/dev/null 2>&1 || die "$EXIT_USAGE" "systemd-analyze is not installed" "run \`make setup\`"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
failures=0
fail() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }

os_units=/usr/lib/systemd/system
[[ -d $os_units ]] || os_units=/lib/systemd/system
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -a "$os_units" "$root/usr/lib/systemd/system"
cp dev/systemd/* "$root/etc/systemd/system/"

# Every executable the units name must exist under the root.
while read -r path; do
  mkdir -p "$root$(dirname "$path")"
  case "$path" in
    /opt/devenv/*)
      rel="${path#/opt/devenv/}"
      [[ -f "$rel" ]] || { fail "a unit runs $path but $rel is not in the repository"; continue; }
      cp "$rel" "$root$path" ;;
    /usr/local/bin/*)
      # Release binaries of this workspace (cargo build --release on the host); their names
      # are what systemd checks.
      printf '#!/bin/sh\nexit 0\n' >"$root$path" ;;
    *) [[ -x "$path" ]] || { fail "a unit runs $path, which this OS does not have"; continue; }
      cp "$path" "$root$path" ;;
  esac
  chmod 0755 "$root$path"
done < <(grep -hoE '^Exec[A-Za-z]*=[-+!@:]*/[^ ]+' dev/systemd/*.service | sed -E 's/^[^=]*=[-+!@:]*//' | sort -u)

verify() { (cd "$root/etc/systemd/system" && systemd-analyze verify --root="$root" --man=no --generators=no "$@" 2>&1); }

mapfile -t units < <(cd dev/systemd && ls -- *.service *.timer *.target)
if out="$(verify "${units[@]}")" && [[ -z "$out" ]]; then
  ok "systemd-analyze verify: ${#units[@]} units, no findings"
else
  printf '%s\n' "$out" >&2
  fail "systemd-analyze verify reported the findings above"
fi

for unit in dev/systemd/*.service; do
  grep -qx 'Restart=on-failure' "$unit" || fail "$unit has no Restart=on-failure"
  grep -qx 'NoNewPrivileges=yes' "$unit" || fail "$unit lacks NoNewPrivileges=yes"
  grep -qE '^ProtectSystem=(strict|full)$' "$unit" || fail "$unit lacks ProtectSystem=strict|full"
  grep -qx 'ProtectHome=yes' "$unit" || fail "$unit lacks ProtectHome=yes"
done
for timer in dev/systemd/*.timer; do
  [[ -f "${timer%.timer}.service" ]] || fail "$timer has no ${timer%.timer}.service"
done
for want in mock-inference.service dev-status.service dev-status.timer secrets-sync.service secrets-sync.timer devenv.target; do
  [[ -f "dev/systemd/$want" ]] || fail "dev/systemd/$want is missing"
done
((failures == 0)) && ok "units: Restart=on-failure and hardening everywhere; every timer has its service"

# Negative controls: the verifier must notice a typo'd key and a missing executable.
sed 's/^Restart=on-failure$/Restartt=on-failure/' dev/systemd/devenv-redis.service >"$root/etc/systemd/system/devenv-typo.service"
out="$(verify devenv-typo.service || true)"
if [[ "$out" == *"Unknown key"* ]]; then ok "verify catches an unknown key"; else fail "verify missed an unknown key: $out"; fi
sed 's|^ExecStart=.*|ExecStart=/usr/local/bin/not-installed|' dev/systemd/devenv-redis.service >"$root/etc/systemd/system/devenv-nobin.service"
if verify devenv-nobin.service >/dev/null; then fail "verify accepted a missing executable"; else ok "verify catches a missing executable"; fi

((failures == 0)) || die "$EXIT_FAILED" "remote-units: $failures check(s) failed" "fix the units in dev/systemd/"
ok "remote-units: all checks passed"
