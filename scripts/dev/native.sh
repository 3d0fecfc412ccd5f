# shellcheck shell=bash
# The native runtime: the suite as local processes from installed binaries. Sourced by
# up.sh / stop.sh; needs lib.sh and a loaded bundle. Data under .devenv/data/<service>,
# logs under .devenv/logs/<service>.log, pid files under .devenv/run/<service>.pid.
# Configs holding passwords are written 0600 into .devenv/run so no secret is on a command line
# (s3s-fs is the exception: it takes keys only as flags; MinIO reads them from the environment).

RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/logs"
DATA_DIR="$STATE_DIR/data"
NATIVE_SERVICES=(postgres redis nats s3 mock_inference)
# Outputs of native_up / native_stop for the calling script.
export STARTED_SERVICES STOPPED_COUNT

# run/ is 0711: the postgres user (see as_pg) must reach its socket directory, but nobody else
# may list it; the configs inside are 0600 anyway.
native_dirs() { mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"; chmod 711 "$RUN_DIR"; }

# alive PID — the process exists and is not a zombie (an exited server whose parent has not
# reaped it yet still answers kill -0).
alive() {
  local stat state
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  state="${stat##*) }" # the command name may hold spaces; the state follows its closing paren
  state="${state%% *}"
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# pid_of SERVICE — the recorded pid if that very process is alive (devenv-core's pid files keep
# its start time and executable: a reused pid is not ours), else nothing (exit 1).
pid_of() { "$(bin devenv)" pid check "$1" 2>/dev/null; }

# record_pid SERVICE PID — the pid file of a service just started.
record_pid() {
  "$(bin devenv)" pid record "$1" "$2" \
    || die "$EXIT_FAILED" "$1 exited right after it started" "see $LOG_DIR/$1.log (\`make logs SERVICE=$1\`)"
}

# as_pg CMD... — PostgreSQL refuses to run as root: under root, run its tools as `postgres`.
as_pg() {
  if [[ $EUID -eq 0 ]]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

# write_secret_file PATH — stdin to a 0600 file (umask first, so it is never readable by others).
write_secret_file() { (umask 077 && cat > "$1"); }

# spawn SERVICE CMD... — starts a long-running server detached, logging to its log file.
# The pid file records the process's executable, so it is written once the child has exec'd the
# server (until then /proc/PID/exe is bash or setsid, and the pid file would disown the server).
spawn() {
  local svc="$1"; shift
  local want pid
  want="$(readlink -f "$1")"
  setsid "$@" >>"$LOG_DIR/$svc.log" 2>&1 </dev/null &
  pid=$!
  wait_until 10 exec_is "$pid" "$want" || true # a server that died is reported by record_pid
  record_pid "$svc" "$pid"
}

# exec_is PID PATH — PID runs PATH now (a rebuilt binary shows as "PATH (deleted)").
exec_is() {
  local exe
  exe="$(readlink "/proc/$1/exe" 2>/dev/null)" || return 1
  [[ "${exe% (deleted)}" == "$2" ]]
}

start_postgres() {
  local data="$DATA_DIR/postgres" sock="$RUN_DIR/postgres" initdb pg_ctl psql
  initdb="$(tool initdb)" || exit
  pg_ctl="$(tool pg_ctl)" || exit
  psql="$(tool psql)" || exit
  mkdir -p "$data" "$sock"
  [[ $EUID -eq 0 ]] && chown postgres:postgres "$data" "$sock"
  chmod 700 "$data"
  as_pg test -w "$data" || die "$EXIT_USAGE" "the postgres user cannot write $data (PostgreSQL refuses to run as root, so it runs as postgres)" \
    "make the checkout's parent directories traversable (chmod o+x), or run make up as a normal user"
  if [[ ! -f "$data/PG_VERSION" ]]; then
    # initdb reads the password from a file: 0600, owned by the server's user, removed at once.
    local pwfile="$sock/initdb.pw"
    # shellcheck disable=SC2016 # $1 is expanded by the inner sh, on purpose
    printf '%s\n' "$POSTGRES_PASSWORD" | as_pg sh -c 'umask 077 && cat > "$1"' sh "$pwfile"
    as_pg "$initdb" -D "$data" -U "$POSTGRES_USER" --auth=scram-sha-256 --pwfile="$pwfile" -E UTF8 >>"$LOG_DIR/postgres.log" 2>&1 \
      || { rm -f "$pwfile"; die "$EXIT_FAILED" "initdb failed" "see $LOG_DIR/postgres.log; \`make reset\` starts from scratch"; }
    rm -f "$pwfile"
    NEEDS_DB=1
  fi
  touch "$LOG_DIR/postgres.log"
  [[ $EUID -eq 0 ]] && chown postgres "$LOG_DIR/postgres.log"
  as_pg "$pg_ctl" start -D "$data" -l "$LOG_DIR/postgres.log" -w -t 60 -s \
    -o "-p $POSTGRES_PORT -k $sock -c listen_addresses=127.0.0.1" >/dev/null \
    || die "$EXIT_FAILED" "postgres did not start" "see $LOG_DIR/postgres.log"
  record_pid postgres "$(head -n1 "$data/postmaster.pid")"
  if [[ "${NEEDS_DB:-0}" == 1 ]]; then
    PGPASSWORD="$POSTGRES_PASSWORD" "$psql" -X -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres \
      -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null \
      || die "$EXIT_FAILED" "could not create database $POSTGRES_DB" "see $LOG_DIR/postgres.log"
  fi
}

start_redis() {
  local redis
  redis="$(tool redis-server)" || exit
  mkdir -p "$DATA_DIR/redis"
  write_secret_file "$RUN_DIR/redis.conf" <<CONF
bind 127.0.0.1
port $REDIS_PORT
requirepass "$REDIS_PASSWORD"
dir $DATA_DIR/redis
appendonly ${REDIS_APPENDONLY:-yes}
daemonize no
logfile ""
CONF
  spawn redis "$redis" "$RUN_DIR/redis.conf"
}

start_nats() {
  local nats
  nats="$(tool nats-server)" || exit
  mkdir -p "$DATA_DIR/nats"
  write_secret_file "$RUN_DIR/nats.conf" <<CONF
listen: "127.0.0.1:$NATS_PORT"
http: "127.0.0.1:$NATS_MONITOR_PORT"
authorization {
  user: "$NATS_USER"
  password: "$NATS_PASSWORD"
}
jetstream {
  store_dir: "$DATA_DIR/nats"
}
CONF
  spawn nats "$nats" -c "$RUN_DIR/nats.conf"
}

start_s3() {
  local server
  mkdir -p "$DATA_DIR/s3"
  if server="$("$(bin devenv)" which minio 2>/dev/null)"; then
    MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" \
      spawn s3 "$server" server "$DATA_DIR/s3" --address "127.0.0.1:$S3_PORT" --console-address "127.0.0.1:$S3_CONSOLE_PORT" --quiet
  elif server="$("$(bin devenv)" which s3s-fs 2>/dev/null)"; then
    # s3s-fs has no console; it serves the S3 API only.
    spawn s3 "$server" --host 127.0.0.1 --port "$S3_PORT" --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" "$DATA_DIR/s3"
  else
    die "$EXIT_USAGE" "no S3 server: neither minio nor s3s-fs is installed" "run \`make setup\`"
  fi
}

start_mock_inference() {
  local mock
  mock="$(bin_optional mock-inference)" || { warn "mock-inference is not built; skipping it (run \`make build\`)"; return 0; }
  MODEL_NAME="$MOCK_INFERENCE_MODEL" spawn mock_inference "$mock" --host 127.0.0.1 --port "$MOCK_INFERENCE_PORT"
}

# native_up [SERVICE...] — starts every service (or those named) that is not running; prints one
# line per service.
native_up() {
  native_dirs
  local svc pid started=() wanted=("$@")
  ((${#wanted[@]})) || wanted=("${NATIVE_SERVICES[@]}")
  for svc in "${wanted[@]}"; do
    if pid="$(pid_of "$svc")"; then
      info "  $svc: already running (pid $pid)"
      continue
    fi
    "start_$svc"
    started+=("$svc")
    log_event service_started "service=$svc"
    info "  $svc: started (pid $(pid_of "$svc" || echo '?'))"
  done
  STARTED_SERVICES=("${started[@]}")
}

# native_running — the services that are running now, one per line.
native_running() {
  local svc
  for svc in "${NATIVE_SERVICES[@]}"; do
    pid_of "$svc" >/dev/null && printf '%s\n' "$svc"
  done
  return 0
}

# native_missing — the services that should run and do not (mock_inference only once built).
native_missing() {
  local svc
  for svc in "${NATIVE_SERVICES[@]}"; do
    [[ "$svc" == mock_inference ]] && ! bin_optional mock-inference >/dev/null && continue
    pid_of "$svc" >/dev/null || printf '%s\n' "$svc"
  done
  return 0
}

# stop_pid SERVICE PID — TERM, then KILL if it has not exited after 10 s.
stop_pid() {
  local svc="$1" pid="$2" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || return 0
    sleep 0.1 # polling the process table for exit; there is no event to wait on
  done
  warn "$svc (pid $pid) ignored SIGTERM for 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# stop_service SERVICE — stops one service (PostgreSQL through pg_ctl); 0 when it was running.
stop_service() {
  local svc="$1" pid
  if ! pid="$(pid_of "$svc")"; then
    rm -f "$RUN_DIR/$svc.pid"
    return 1
  fi
  if [[ "$svc" == postgres ]]; then
    as_pg "$(tool pg_ctl)" stop -D "$DATA_DIR/postgres" -m fast -w -s >/dev/null 2>&1 || stop_pid "$svc" "$pid"
  else
    stop_pid "$svc" "$pid"
  fi
  rm -f "$RUN_DIR/$svc.pid"
  log_event service_stopped "service=$svc"
  info "  $svc: stopped"
}

# native_stop [SERVICE...] — stops every service (or those named); STOPPED_COUNT says how many ran.
native_stop() {
  local svc stopped=0 wanted=("$@")
  ((${#wanted[@]})) || wanted=("${NATIVE_SERVICES[@]}")
  for svc in "${wanted[@]}"; do
    stop_service "$svc" && stopped=$((stopped + 1))
  done
  STOPPED_COUNT=$stopped
}
