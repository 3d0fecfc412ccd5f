#!/usr/bin/env bash
# End-to-end, real processes (issue #18, one lifecycle command at a time per workspace):
#  - two `make up` started at once in one fresh checkout → both exit 0, each service started once
#    (one service_started event and one pid per service), the second said whom it waited for;
#  - `make up` while `make restore` holds the lock waits (naming the restore), then proceeds;
#  - a lock left by a SIGKILLed `make up` does not block the next one (taken over, said so);
#  - stop, reset, restart, snapshot and restore all take the lock: held by another command, each
#    gives up after DEVENV_LOCK_TIMEOUT with exit 4 naming the holder's pid and command.
# shellcheck source=lifecycle-common.bash
source "$(dirname "$0")/lifecycle-common.bash"

echo "lifecycle-lock e2e in $WORK"
holder() { cat .devenv/lifecycle.lock.holder 2>/dev/null; }

make -s up >first.out 2>&1 &
first=$!
make -s up >second.out 2>&1 &
second=$!
rc1=0 rc2=0
wait "$first" || rc1=$?
wait "$second" || rc2=$?
check "two make up at once: both exit 0 ($rc1, $rc2)" test "$rc1$rc2" = 00
check "one of them waited, naming the holder" grep -q "waiting for the lifecycle lock: held by pid [0-9]* (\`make up\`)" first.out second.out
for svc in postgres redis nats s3 mock_inference; do
  n="$(grep -c "\"event\":\"service_started\".*\"service\":\"$svc\"" .devenv/events.jsonl || true)"
  check "$svc was started once ($n service_started events)" test "$n" = 1
done
# (redis-server retitles itself `redis-server 127.0.0.1:PORT`; nats-server keeps its argv)
check "one redis-server and one nats-server for this checkout" test "$(pgrep -fc "^/usr/bin/redis-server 127.0.0.1:$(bundle_get REDIS_PORT)\$") $(pgrep -fc "$WORK/.devenv/run/nats.conf")" = "1 1"
check "every service healthy" healthy

run_ok "make snapshot NAME=a" make -s snapshot NAME=a
make -s restore NAME=a >restore.out 2>&1 &
restore_pid=$!
wait_until 30 grep -q 'command make restore NAME=a' .devenv/lifecycle.lock.holder || fail "the restore never held the lock"
run_ok "make up while make restore holds the lock exits 0" make -s up
check "... after waiting for the restore, named" grep -q "waiting for the lifecycle lock: held by pid [0-9]* (\`make restore NAME=a\`)" <<<"$out"
rc=0; wait "$restore_pid" || rc=$?
check "the restore exits 0" test "$rc" = 0
restored_at="$(grep -n '"event":"snapshot_restore"' .devenv/events.jsonl | tail -n1 | cut -d: -f1)"
up_done_at="$(grep -n '"event":"up_finished"' .devenv/events.jsonl | tail -n1 | cut -d: -f1)"
check "the up finished after the restore (events $restored_at < $up_done_at)" test "${restored_at:-0}" -lt "${up_done_at:-0}" -a "${restored_at:-0}" -gt 0

make -s stop >/dev/null 2>&1
setsid make -s up >killed.out 2>&1 &
killed=$!
wait_until 30 grep -q 'command make up' .devenv/lifecycle.lock.holder || fail "the doomed make up never held the lock"
dead_holder="$(holder | sed -n 's/^pid //p')"
kill -KILL -- "-$killed" 2>/dev/null || kill -KILL "$killed"
wait "$killed" 2>/dev/null || true
gone() { [[ ! -e "/proc/$1" ]] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
check "the killed holder is gone, its record left behind" wait_until 5 gone "${dead_holder:-0}"
run_ok "the next make up is not blocked by the dead holder's lock" env DEVENV_LOCK_TIMEOUT=20 make -s up
check "... and says it took the lock over" grep -q "taking over the lifecycle lock left by pid $dead_holder" <<<"$out"
check "... the holder record is its own now (then cleared)" test "$(holder | sed -n 's/^pid //p')" != "$dead_holder"
check "every service healthy after the takeover" healthy

"$DEVENV_BIN_DIR/devenv" lock --label "test holder" -- sleep 60 &
track_pid $!
wait_until 10 grep -q 'command test holder' .devenv/lifecycle.lock.holder || fail "the test holder never held the lock"
holder_pid="$(holder | sed -n 's/^pid //p')"
for cmd in "scripts/dev/stop.sh" "env FORCE=1 scripts/dev/reset.sh" "scripts/dev/restart.sh" \
  "env NAME=b scripts/dev/snapshot.sh create" "env NAME=a scripts/dev/snapshot.sh restore" "scripts/dev/up.sh"; do
  rc=0; started=$SECONDS
  # shellcheck disable=SC2086 # the command line is split on purpose
  out="$(DEVENV_LOCK_TIMEOUT=1 $cmd 2>&1)" || rc=$?
  check "${cmd#env } with the lock held: exit 4 after the timeout ($((SECONDS - started)) s)" test "$rc" = 4
  check "... naming the holder" grep -q "held by pid $holder_pid (\`test holder\`)" <<<"$out"
done
check "nothing was stopped while the lock was held" healthy
stop_tracked

finish lifecycle-lock
