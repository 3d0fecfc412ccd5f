#!/usr/bin/env bash
# The dependency suite on a remote workspace host, as native services.
#
# Installed by the StackScript to /opt/devenv/dev/remote/suite.sh. The systemd units in
# dev/systemd/ call `suite.sh prepare|run|post-start <service>` (systemd supervises); without
# systemd (a plain host, or the network-namespace test host) `suite.sh up|down|reset` supervise
# the same commands as background processes with pid files. scripts/dev/remote.sh reaches
# `status-local|logs|reset` over its transport (ssh, or `ip netns exec` in tests).
#
#   suite.sh up | down | reset | status-local | logs [LINES] [SERVICE]
#   suite.sh prepare SERVICE | run SERVICE | post-start SERVICE     (for systemd units)
#
# Configuration (environment, with the defaults a Linode workspace uses):
#   DEVENV_BUNDLE      /opt/devenv/.env.linode   the bundle secrets-sync wrote (0600)
#   DEVENV_DEV_STATUS  /usr/local/bin/dev-status creates the bundle's S3 bucket after s3 starts
#   DEVENV_STATE_DIR   /var/lib/devenv           data/<service>, run/<service>.pid, conf/
#   DEVENV_LOG_DIR     /var/log/devenv           <service>.log (process supervisor)
#   DEVENV_LISTEN      the bundle's POSTGRES_HOST (the VLAN address); services also listen
#                      on 127.0.0.1 where the server allows two addresses
#   DEVENV_SERVICES    postgres redis nats s3 mock-inference
#   DEVENV_SUPERVISOR  systemd when systemd runs and devenv.target is installed, else process
#   DEVENV_READY_TIMEOUT 30 (seconds `up` waits for every service)
set -euo pipefail

BUNDLE="${DEVENV_BUNDLE:-/opt/devenv/.env.linode}"
# The workspace's dev-status (the StackScript installs the release binaries in /usr/local/bin).
DEV_STATUS="${DEVENV_DEV_STATUS:-/usr/local/bin/dev-status}"
STATE_DIR="${DEVENV_STATE_DIR:-/var/lib/devenv}"
LOG_DIR="${DEVENV_LOG_DIR:-/var/log/devenv}"
SERVICES="${DEVENV_SERVICES:-postgres redis nats s3 mock-inference}"
READY_TIMEOUT="${DEVENV_READY_TIMEOUT:-30}"
for pgbin in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  [[ -d "$pgbin" ]] && PATH="$pgbin:$PATH" && break
done
PATH="$PATH:/usr/local/bin:${HOME:-/root}/.cargo/bin"

die() {
  printf 'error: %s\n' "$2" >&2
  [[ -n "${3:-}" ]] && printf '  fix: %s\n' "$3" >&2
  exit "$1"
}

[[ -r "$BUNDLE" ]] || die 2 "bundle $BUNDLE is missing or unreadable" "run \`secrets-sync --mode remote\` on the host (devenv-secrets-sync.service) or set DEVENV_BUNDLE"
set -a
# shellcheck disable=SC1090
. "$BUNDLE"
set +a
LISTEN="${DEVENV_LISTEN:-${POSTGRES_HOST:-127.0.0.1}}"

url_port() {
  local rest="${1#*://}"
  rest="${rest##*@}"; rest="${rest%%/*}"
  if [[ "$rest" =~ :([0-9]+)$ ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf '%s' "$2"; fi
}
NATS_PORT="$(url_port "${NATS_URL:-}" 4222)"
S3_PORT="$(url_port "${S3_ENDPOINT:-}" 9000)"
MOCK_PORT="$(url_port "${MOCK_INFERENCE_URL:-}" 8000)"

supervisor() {
  if [[ -n "${DEVENV_SUPERVISOR:-}" ]]; then printf '%s' "$DEVENV_SUPERVISOR"
  elif [[ -d /run/systemd/system ]] && systemctl cat devenv.target >/dev/null 2>&1; then printf systemd
  else printf process; fi
}

as_service_user() {
  # PostgreSQL refuses to run as root; systemd runs it as User=devenv, a root shell as postgres.
  if [[ $EUID -eq 0 ]]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

# unit_name SERVICE — its systemd unit (dev/systemd/).
unit_name() { if [[ "$1" == mock-inference ]]; then printf 'mock-inference.service'; else printf 'devenv-%s.service' "$1"; fi; }

data_dir() { printf '%s/data/%s' "$STATE_DIR" "$1"; }

# prepare SERVICE — first-run initialisation and config files (idempotent; secrets in 0600 files
# so they never show in a process list).
prepare() {
  local svc="$1" dir
  dir="$(data_dir "$svc")"
  mkdir -p "$dir" "$STATE_DIR/conf" "$STATE_DIR/run" "$LOG_DIR"
  chmod 0700 "$STATE_DIR/conf"
  case "$svc" in
    postgres)
      if [[ ! -f "$dir/PG_VERSION" ]]; then
        local pwfile
        pwfile="$(mktemp)"
        printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
        if [[ $EUID -eq 0 ]]; then chown -R postgres:postgres "$dir" "$pwfile"; fi
        as_service_user initdb -D "$dir" -U "$POSTGRES_USER" --auth=scram-sha-256 -E UTF8 \
          --pwfile="$pwfile" >/dev/null || { rm -f "$pwfile"; die 1 "initdb failed in $dir" "check disk space and $LOG_DIR"; }
        rm -f "$pwfile"
        # Clients on the workspace VLAN (the directly attached subnet) log in with the password.
        printf 'host all all samenet scram-sha-256\n' >>"$dir/pg_hba.conf"
      fi
      ;;
    redis)
      umask 077
      printf 'bind 127.0.0.1 %s\nport %s\nrequirepass %s\ndir %s\nappendonly yes\nprotected-mode yes\n' \
        "$LISTEN" "$REDIS_PORT" "$REDIS_PASSWORD" "$dir" >"$STATE_DIR/conf/redis.conf"
      ;;
    nats)
      umask 077
      printf 'listen: "%s:%s"\nhttp: "127.0.0.1:8222"\njetstream { store_dir: "%s" }\nauthorization {\n  user: "%s"\n  password: "%s"\n}\n' \
        "$LISTEN" "$NATS_PORT" "$dir" "$NATS_USER" "$NATS_PASSWORD" >"$STATE_DIR/conf/nats.conf"
      ;;
    s3 | mock-inference) ;;
    *) die 2 "unknown service '$svc'" "use one of: postgres redis nats s3 mock-inference" ;;
  esac
}

# run SERVICE — exec the server in the foreground (systemd's ExecStart, or backgrounded by up).
run() {
  local svc="$1" dir
  dir="$(data_dir "$svc")"
  case "$svc" in
    postgres)
      exec_as=(exec)
      [[ $EUID -eq 0 ]] && exec_as=(exec setpriv --reuid=postgres --regid=postgres --init-groups --)
      "${exec_as[@]}" postgres -D "$dir" -p "$POSTGRES_PORT" -c unix_socket_directories= \
        -c "listen_addresses=127.0.0.1,$LISTEN" ;;
    redis) exec redis-server "$STATE_DIR/conf/redis.conf" ;;
    nats) exec nats-server -c "$STATE_DIR/conf/nats.conf" ;;
    s3)
      if command -v minio >/dev/null 2>&1; then
        MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" \
          exec minio server "$dir" --address "$LISTEN:$S3_PORT" --quiet
      fi
      exec s3s-fs --host "$LISTEN" --port "$S3_PORT" --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" "$dir" ;;
    mock-inference)
      MODEL_NAME="${MOCK_INFERENCE_MODEL:-}" exec mock-inference --host "$LISTEN" --port "$MOCK_PORT" ;;
    *) die 2 "unknown service '$svc'" "use one of: postgres redis nats s3 mock-inference" ;;
  esac
}

# ready SERVICE — one local readiness probe (protocol level where a client is installed).
ready() {
  case "$1" in
    postgres) pg_isready -q -h "$LISTEN" -p "$POSTGRES_PORT" -t 1 ;;
    redis) [[ "$(REDISCLI_AUTH="$REDIS_PASSWORD" timeout 2 redis-cli -h "$LISTEN" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] ;;
    nats) curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:8222/healthz" ;;
    s3) curl -sS -o /dev/null --max-time 2 "http://$LISTEN:$S3_PORT/" ;;
    mock-inference) curl -fsS -o /dev/null --max-time 2 "http://$LISTEN:$MOCK_PORT/health" ;;
  esac
}

# post-start SERVICE — what needs the running server (the application database).
post_start() {
  if [[ "$1" == s3 ]]; then
    # The bundle's bucket, through dev-status (the S3 API, as `make up` does it locally).
    "$DEV_STATUS" bucket --quiet --env-file "$BUNDLE" --timeout "$READY_TIMEOUT" \
      || die 1 "could not create the bucket named in $BUNDLE" "read $LOG_DIR/s3.log (suite.sh logs 50 s3)"
    return 0
  fi
  [[ "$1" == postgres ]] || return 0
  local exists
  exists="$(PGPASSWORD="$POSTGRES_PASSWORD" psql -h "$LISTEN" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '${POSTGRES_DB//\'/\'\'}'")"
  [[ "$exists" == 1 ]] || PGPASSWORD="$POSTGRES_PASSWORD" psql -q -h "$LISTEN" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres \
    -c "CREATE DATABASE \"${POSTGRES_DB//\"/\"\"}\""
}

pid_file() { printf '%s/run/%s.pid' "$STATE_DIR" "$1"; }
running() { local p; p="$(cat "$(pid_file "$1")" 2>/dev/null)" && [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }

wait_ready() {
  local svc="$1" deadline=$((SECONDS + READY_TIMEOUT))
  until ready "$svc"; do
    ((SECONDS < deadline)) || die 4 "$svc did not become ready within ${READY_TIMEOUT}s" "read $LOG_DIR/$svc.log (suite.sh logs 50 $svc)"
    running "$svc" || [[ "$(supervisor)" == systemd ]] || die 1 "$svc exited during start" "read $LOG_DIR/$svc.log (suite.sh logs 50 $svc)"
    sleep 0.2
  done
}

up() {
  if [[ "$(supervisor)" == systemd ]]; then
    systemctl start devenv.target
  else
    local svc
    for svc in $SERVICES; do
      running "$svc" && continue
      prepare "$svc"
      # setsid: the server outlives this shell and gets no terminal signals.
      setsid "$0" run "$svc" >>"$LOG_DIR/$svc.log" 2>&1 < /dev/null &
      printf '%s\n' "$!" >"$(pid_file "$svc")"
    done
  fi
  local svc
  for svc in $SERVICES; do wait_ready "$svc"; post_start "$svc"; done
  printf 'suite: %s ready on %s\n' "$SERVICES" "$LISTEN"
}

down() {
  if [[ "$(supervisor)" == systemd ]]; then systemctl stop devenv.target; return; fi
  local svc pid deadline
  for svc in $SERVICES; do
    running "$svc" || { rm -f "$(pid_file "$svc")"; continue; }
    pid="$(cat "$(pid_file "$svc")")"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$(pid_file "$svc")"
  done
}

reset() {
  down
  rm -rf "${STATE_DIR:?}/data"
  up
}

status_local() {
  local svc rc=0
  for svc in $SERVICES; do
    if ready "$svc"; then printf '%s healthy\n' "$svc"; else printf '%s unhealthy\n' "$svc"; rc=1; fi
  done
  return "$rc"
}

logs() {
  local lines="${1:-100}" only="${2:-}" svc
  [[ "$lines" =~ ^[0-9]+$ ]] || die 2 "LINES must be a number, got '$lines'" "e.g. suite.sh logs 200 redis"
  if [[ "$(supervisor)" == systemd ]]; then
    if [[ -n "$only" ]]; then journalctl --no-pager -n "$lines" -u "$(unit_name "$only")"
    else journalctl --no-pager -n "$lines" -u 'devenv-*' -u mock-inference.service; fi
    return
  fi
  for svc in ${only:-$SERVICES}; do
    [[ -f "$LOG_DIR/$svc.log" ]] || continue
    printf '==> %s <==\n' "$svc"
    tail -n "$lines" "$LOG_DIR/$svc.log"
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  reset) reset ;;
  status-local) status_local ;;
  logs) logs "${2:-100}" "${3:-}" ;;
  prepare) prepare "${2:?service}" ;;
  run) run "${2:?service}" ;;
  post-start) wait_ready "${2:?service}"; post_start "$2" ;;
  *) die 2 "unknown command '${1:-}'" "use: up down reset status-local logs [LINES] [SERVICE] | prepare|run|post-start SERVICE" ;;
esac
