#!/usr/bin/env bash
# End-to-end, real processes (issue #18, one service at a time): with the stack up,
# `make stop SERVICE=redis` → redis down, the rest healthy, `make status` names redis and exits
# non-zero, the stage is not `ready`; `make up SERVICE=redis` → healthy and `ready` again;
# `make restart SERVICE=postgres` keeps its data and gets a new pid, the others keep theirs;
# comma lists; an unknown service is exit 2; `make up FOLLOW=1` ends in the live logs, the lock
# released.
# shellcheck source=lifecycle-common.bash
source "$(dirname "$0")/lifecycle-common.bash"

echo "lifecycle-services e2e in $WORK"
run_ok "make up" make -s up
check "stage is ready" test "$(stage)" = ready
nats_pid="$(pid_file nats)" s3_pid="$(pid_file s3)"

run_ok "make stop SERVICE=redis" make -s stop SERVICE=redis
check "redis is down (no pid file, no answer)" test ! -e .devenv/run/redis.pid -a "$(redis_q ping 2>/dev/null || true)" != PONG
check "the rest is healthy" healthy --only postgres,nats,s3,mock_inference
check "nats and s3 kept running (same pids)" test "$(pid_file nats) $(pid_file s3)" = "$nats_pid $s3_pid"
run_fails "make status exits non-zero" make -s status
check "make status names redis as unhealthy" grep -Eq "redis.*unhealthy|unhealthy.*redis" <<<"$out"
check "stage is not ready (stopped)" test "$(stage)" = stopped
check "the stage's reason names redis and what still runs" grep -q '"reason":"make stop SERVICE=redis; still running: postgres,nats,s3' <(devenv state --json)

run_ok "make up SERVICE=redis" make -s up SERVICE=redis
check "redis answers again" test "$(redis_q ping)" = PONG
check "every service healthy" healthy
check "stage is ready again" test "$(stage)" = ready

psql_q "CREATE TABLE svc_e2e (v text); INSERT INTO svc_e2e VALUES ('kept')" >/dev/null
pg_pid="$(pid_file postgres)" redis_pid="$(pid_file redis)"
run_ok "make restart SERVICE=postgres" make -s restart SERVICE=postgres
check "postgres has a new pid" test "$(pid_file postgres)" != "$pg_pid" -a -n "$(pid_file postgres)"
check "postgres kept its data" test "$(psql_q 'SELECT v FROM svc_e2e')" = kept
check "redis kept its pid" test "$(pid_file redis)" = "$redis_pid"
check "stage is ready after the restart" test "$(stage)" = ready

run_ok "make stop SERVICE=redis,nats (a comma list)" make -s stop SERVICE=redis,nats
check "redis and nats are down, postgres is not" test ! -e .devenv/run/redis.pid -a ! -e .devenv/run/nats.pid -a -e .devenv/run/postgres.pid
run_ok "make up SERVICE=redis,nats" make -s up SERVICE=redis,nats
check "every service healthy after the comma list" healthy

run_fails "stop SERVICE=bogus fails" env SERVICE=bogus scripts/dev/stop.sh
check "... with exit 2 naming the services" test "$rc" = 2 -a -n "$(grep -o "use one or more of: postgres,redis" <<<"$out")"
check "... and stopped nothing" healthy

# make up FOLLOW=1: the stack is up (nothing to do), then the logs follow, without the lock.
make -s up FOLLOW=1 LINES=1 >follow.out 2>&1 &
follow_make=$!
wait_until 60 grep -q '^postgres *| ' follow.out || fail "make up FOLLOW=1 showed no logs" "$(cat follow.out)"
check "make up FOLLOW=1 brought the stack up first" grep -q 'nothing to do' follow.out
check "... and follows every service's log" grep -q '^redis *| ' follow.out
check "... without holding the lifecycle lock" devenv lock --timeout 1 -- true
for p in $(pgrep -f "^$DEVENV_BIN_DIR/devenv logs --follow 1"); do
  [[ "$(readlink "/proc/$p/cwd")" == "$WORK" ]] && kill "$p" # this checkout's follower only
done
wait "$follow_make" 2>/dev/null || true

finish lifecycle-services
