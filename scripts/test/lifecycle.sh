#!/usr/bin/env bash
# End-to-end lifecycle of the native runtime, with real processes, in a throwaway copy of the
# repository on free ports (so a developer's own stack is never touched):
#   fresh `make up` → healthy, .env.local 0600 and ignored; second `make up` changes nothing;
#   redis killed → `make status` fails naming redis, `make up` heals it; a row survives
#   stop + up and is gone after reset; a taken port is reassigned (strict: exit 2);
#   malformed ports.yaml → exit 2 naming file:line; a tracked bundle path → exit 3, nothing written.
set -euo pipefail
NEEDS_BINS="dev-status secrets-sync devenv"
# shellcheck source=lifecycle-common.bash
source "$(dirname "$0")/lifecycle-common.bash"
pids() { cat .devenv/run/*.pid 2>/dev/null | sort | tr '\n' ' '; }

echo "lifecycle e2e in $WORK"
run_ok "fresh make up exits 0" make -s up
run_ok "all services healthy after up" "$DEVENV_BIN_DIR/dev-status" --json --skip rabbitmq
check ".env.local is mode 0600" test "$(stat -c %a .env.local)" = 600
check ".env.local is ignored by git" git check-ignore -q .env.local
check "state is ready" test "$("$DEVENV_BIN_DIR/devenv" state)" = ready

sum1="$(sha256sum .env.local)"; pids1="$(pids)"
run_ok "second make up exits 0" make -s up
check "second make up says nothing changed" grep -q "nothing to do" <<<"$out"
check "second make up left the bundle alone" test "$sum1" = "$(sha256sum .env.local)"
check "second make up restarted nothing" test "$pids1" = "$(pids)"

kill -9 "$(head -n1 .devenv/run/redis.pid)"
run_fails "status fails with redis dead" make -s status
check "status names redis" grep -Eq "redis.*unhealthy|unhealthy.*redis" <<<"$out"
run_ok "make up heals redis" make -s up
run_ok "status healthy again" make -s status

export PGPASSWORD; PGPASSWORD="$(bundle_get POSTGRES_PASSWORD)"
psql_q() { psql -X -q -A -t -h 127.0.0.1 -p "$(bundle_get POSTGRES_PORT)" -U "$(bundle_get POSTGRES_USER)" -d "$(bundle_get POSTGRES_DB)" -c "$1"; }
psql_q "CREATE TABLE e2e (v text); INSERT INTO e2e VALUES ('kept')" >/dev/null
migration_files="$(find migrations -maxdepth 1 -name '[0-9][0-9][0-9]_*.sql' | wc -l)"
check "make up applied every migration once" test "$(psql_q "SELECT count(*) FROM schema_migrations")" = "$migration_files"
check "make up seeded the bootstrap organization" test "$(psql_q "SELECT count(*) FROM schema_seeds")" -ge 1
make -s stop >/dev/null
check "stop leaves no service running" test -z "$(pids)"
make -s up >/dev/null 2>&1 || fail "up after stop"
check "row survives stop + up" test "$(psql_q "SELECT v FROM e2e" 2>&1)" = kept
FORCE=1 make -s reset >/dev/null
make -s up >/dev/null 2>&1 || fail "up after reset"
check "row is gone after reset" test "$(psql_q "SELECT count(*) FROM pg_tables WHERE tablename = 'e2e'")" = 0

make -s stop >/dev/null
redis_port="$(bundle_get REDIS_PORT)"
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $redis_port)); s.listen(); time.sleep(600)" &
SQUATTER_PID=$!
track_pid "$SQUATTER_PID"
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $redis_port), 0.2)" 2>/dev/null; do :; done
code=0; out="$(DEVENV_STRICT_PORTS=1 scripts/dev/up.sh 2>&1)" || code=$?
check "strict ports: taken port is exit 2" test "$code" = 2
check "strict ports: message names the holder" grep -q "port $redis_port for redis is taken by python3 (pid $SQUATTER_PID)" <<<"$out"
run_ok "taken port: make up still succeeds" make -s up
check "taken port: holder is named" grep -q "port $redis_port for redis is taken by python3 (pid $SQUATTER_PID)" <<<"$out"
new_port="$(bundle_get REDIS_PORT)"
check "taken port: next free port is in .env.local" test "$new_port" -gt "$redis_port"
kill "$SQUATTER_PID"
make -s stop >/dev/null

cp configs/ports.yaml /tmp/ports.yaml.$$
printf 'postgres: [5432\n' > configs/ports.yaml
code=0; out="$(scripts/dev/up.sh 2>&1)" || code=$?
check "malformed ports.yaml is exit 2" test "$code" = 2
check "malformed ports.yaml names file and line" grep -q "configs/ports.yaml:[0-9]" <<<"$out"
mv /tmp/ports.yaml.$$ configs/ports.yaml

rm -f .env.local
printf 'target/\n' > .gitignore
code=0; out="$(scripts/dev/up.sh 2>&1)" || code=$?
check "tracked bundle path is exit 3" test "$code" = 3
check "tracked bundle path: nothing written" test ! -e .env.local
check "no service left running" test -z "$(pids)"

finish lifecycle
