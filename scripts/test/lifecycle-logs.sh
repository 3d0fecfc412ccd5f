#!/usr/bin/env bash
# End-to-end (issue #18, live multiplexed logs): `make logs` follows two services' logs while
# two real writer processes append to them (the test writes the lines itself, so it knows when
# each was written; the servers' own logs are too quiet to time). Checked: lines from both appear
# interleaved in the order they were written, each prefixed with its service name padded to the
# same width, each within 1 s of being written; no colour codes through a pipe, colour on a
# terminal (util-linux `script` gives it one) unless NO_COLOR; SERVICE= filters; FOLLOW=0 and
# LINES=N print the last lines and exit; SINCE=10m drops older stamped lines; a follower costs
# (almost) no CPU; a log that appears later joins. `make completions` installs working completions for the current user.
NEEDS_BINS=devenv
# shellcheck source=lifecycle-common.bash
source "$(dirname "$0")/lifecycle-common.bash"

echo "lifecycle-logs e2e in $WORK"
mkdir -p .devenv/logs
old="$(date -u -d '-2 hours' '+%Y-%m-%d %H:%M:%S.000 UTC')"
new="$(date -u '+%Y-%m-%d %H:%M:%S.000 UTC')"
printf '%s [1] LOG:  old line\n%s [1] LOG:  recent line\n' "$old" "$new" > .devenv/logs/postgres.log
: > .devenv/logs/redis.log

# The follower, through a pipe; every line it prints is stamped with its arrival time.
unset NO_COLOR
# (Stopped by ending the follower itself: make exits, the stamper sees the end of its input.)
make -s logs LINES=0 2>/dev/null | bash -c 'while IFS= read -r line; do printf "%s %s\n" "$EPOCHREALTIME" "$line"; done' > arrivals.txt &
pipeline=$!
wait_until 10 pgrep -f "^$DEVENV_BIN_DIR/devenv logs --follow 1" || fail "make logs did not start"
follower="$(pgrep -f "^$DEVENV_BIN_DIR/devenv logs --follow 1" | head -n1)"
# Two writers, alternating, each line carrying the time it was written.
for i in 1 2 3 4 5 6; do
  if ((i % 2)); then svc=redis; else svc=postgres; fi
  printf 'line %s written-at %s\n' "$i" "$EPOCHREALTIME" >> ".devenv/logs/$svc.log"
  sleep 0.2 # the writers' own pace: a service logging now and then
done
wait_until 5 grep -q "line 6 " arrivals.txt || fail "line 6 never arrived"
printf 'a service that started later\n' > .devenv/logs/nats.log
check "a service's log that appears later joins (within 2 s)" wait_until 2 grep -q '^[0-9.]* nats     | a service that started later$' arrivals.txt
cpu_ticks() { awk '{print $14 + $15}' "/proc/$follower/stat"; }
t0="$(cpu_ticks)"; sleep 2; t1="$(cpu_ticks)"
check "an idle follower uses under 5% of a CPU (ticks in 2 s: $((t1 - t0)))" test $((t1 - t0)) -le 10
kill "$follower"
wait "$pipeline" || true

order="$(grep -o 'line [0-9]' arrivals.txt | tr -d 'line ' | tr -d '\n')"
check "lines from both services, in the order written (got '$order')" test "$order" = 123456
check "each line is prefixed with its service, padded alike" test "$(grep -c -E '^[0-9.]+ (redis    \| line [135] |postgres \| line [246] )' arrivals.txt)" = 6
late="$(grep 'written-at' arrivals.txt | awk '{ for (i = 1; i <= NF; i++) if ($i == "written-at") w = $(i + 1); d = $1 - w; if (d > max) max = d } END { printf "%.3f", max }')"
check "every line within 1 s of being written (worst ${late}s)" awk -v d="$late" 'BEGIN { exit !(d < 1.0) }'
check "no colour codes through a pipe" test "$(grep -c $'\e' arrivals.txt)" = 0
check "the recent backlog line was not printed with LINES=0" test "$(grep -c 'recent line' arrivals.txt)" = 0

run_ok "FOLLOW=0 LINES=2 prints and exits" timeout 10 make -s logs FOLLOW=0 LINES=2
check "... the last 2 lines of each service" test "$(grep -c '^redis    | line [35]' <<<"$out") $(grep -c '^postgres | line [46]' <<<"$out")" = "2 2"
run_ok "SERVICE=redis FOLLOW=0 filters" timeout 10 make -s logs SERVICE=redis FOLLOW=0 LINES=100
check "... only redis lines, unpadded" test "$(grep -c '^redis | line' <<<"$out") $(grep ' | ' <<<"$out" | grep -vc '^redis | ')" = "3 0"
run_ok "SINCE=10m FOLLOW=0" timeout 10 make -s logs SERVICE=postgres SINCE=10m FOLLOW=0
check "... keeps the recent stamped line and drops the 2-hour-old one" test "$(grep -c 'recent line' <<<"$out") $(grep -c 'old line' <<<"$out")" = "1 0"
run_fails "SERVICE=bogus fails" make -s logs SERVICE=bogus FOLLOW=0
check "... with exit 2" test "$rc" = 2
if command -v script >/dev/null; then
  tty_out="$(script -qec "make -s logs SERVICE=redis FOLLOW=0 LINES=1" /dev/null)"
  check "coloured prefix on a terminal" grep -q $'\e\\[' <<<"$tty_out"
  tty_out="$(NO_COLOR=1 script -qec "make -s logs SERVICE=redis FOLLOW=0 LINES=1" /dev/null)"
  check "plain on a terminal under NO_COLOR" test "$(grep -c $'\e\\[' <<<"$tty_out")" = 0
fi
# make completions installs for the current user; bash completes a devenv subcommand from it.
home="$WORK/home"
mkdir -p "$home"
run_ok "make completions" env HOME="$home" XDG_DATA_HOME= XDG_CONFIG_HOME= make -s completions
completion="$home/.local/share/bash-completion/completions/devenv"
check "bash completion installed" test -s "$completion" -a -s "$home/.config/fish/completions/devenv.fish" -a -s "$home/.local/share/zsh/site-functions/_devenv"
# shellcheck disable=SC2016 # expanded by the inner bash
check "bash completes \`devenv snap\` to snapshot" test "$(bash -c 'source "$1"; COMP_WORDS=(devenv snap); COMP_CWORD=1; _devenv devenv snap devenv; echo "${COMPREPLY[*]}"' _ "$completion")" = snapshot

# Every binary's completions: bash completes one of its subcommands from the installed script.
completes() {
  local binary="$1" prefix="$2" want="$3" fn script="$home/.local/share/bash-completion/completions/$1"
  fn="_${binary//-/__}"
  # shellcheck disable=SC2016 # expanded by the inner bash
  [[ "$(bash -c 'source "$1"; COMP_WORDS=("$2" "$3"); COMP_CWORD=1; "$4" "$2" "$3" "$2"; echo "${COMPREPLY[*]}"' _ "$script" "$binary" "$prefix" "$fn")" == *"$want"* ]]
}
check "bash completes \`dev-status bu\` to bucket" completes dev-status bu bucket
check "bash completes \`secrets-sync ren\` to render" completes secrets-sync ren render
check "bash completes \`migrate-ledger ver\` to verify" completes migrate-ledger ver verify
check "bash completes \`config-diff val\` to validate" completes config-diff val validate
check "bash completes \`mock-inference comp\` to completions" completes mock-inference comp completions

finish lifecycle-logs
