#!/usr/bin/env bash
# The compose branch of the lifecycle: `scripts/dev/compose.sh up|stop|reset|logs [SERVICE]|ps`.
# up.sh / stop.sh / reset.sh / logs.sh call it when `runtime` says compose; it can also be
# sourced for its compose_* functions. Every call is
#   docker compose --project-name devenv --env-file <bundle> -f dev/compose.local.yaml \
#                  [-f dev/compose.override.yaml] <verb>
# The bundle (.env.local, or .env.linode with MODE=remote) is the only source of credentials
# and host ports. reset does not ask: the caller (reset.sh) has already confirmed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMPOSE_PROJECT=devenv
COMPOSE_FILE_MAIN="$DEVENV_ROOT/dev/compose.local.yaml"
COMPOSE_FILE_OVERRIDE="$DEVENV_ROOT/dev/compose.override.yaml"

# url_port URL DEFAULT — the port of scheme://[user[:pass]@]host:port[/...], else DEFAULT.
url_port() {
  local rest="${1#*://}"
  rest="${rest##*@}"
  rest="${rest%%/*}"
  if [[ "$rest" =~ :([0-9]+)$ ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf '%s' "$2"; fi
}

# compose_env — exports what the compose file interpolates. The bundle carries NATS, S3 and
# mock-inference ports only inside URLs; the DEVENV_<SERVICE>_PORT variables the compose file
# publishes are derived from them, so the containers listen where the bundle says.
compose_env() {
  load_bundle
  export DEVENV_NATS_PORT="${DEVENV_NATS_PORT:-$(url_port "${NATS_URL:-}" 4222)}"
  export DEVENV_S3_PORT="${DEVENV_S3_PORT:-$(url_port "${S3_ENDPOINT:-}" 9000)}"
  export DEVENV_MOCK_INFERENCE_PORT="${DEVENV_MOCK_INFERENCE_PORT:-$(url_port "${MOCK_INFERENCE_URL:-}" 8000)}"
  if [[ -n "${RABBITMQ_URL:-}" ]]; then
    export DEVENV_RABBITMQ_PORT="${DEVENV_RABBITMQ_PORT:-$(url_port "$RABBITMQ_URL" 5672)}"
    local creds="${RABBITMQ_URL#*://}"
    if [[ "$creds" == *@* ]]; then
      creds="${creds%%@*}"
      export RABBITMQ_USER="${RABBITMQ_USER:-${creds%%:*}}"
      [[ "$creds" == *:* ]] && export RABBITMQ_PASSWORD="${RABBITMQ_PASSWORD:-${creds#*:}}"
    fi
  fi
}

# compose_cmd — the argv prefix every verb uses.
compose_cmd() {
  COMPOSE=(docker compose --project-name "$COMPOSE_PROJECT" --env-file "$(bundle_path)" -f "$COMPOSE_FILE_MAIN")
  [[ -f "$COMPOSE_FILE_OVERRIDE" ]] && COMPOSE+=(-f "$COMPOSE_FILE_OVERRIDE")
  return 0
}

compose_preflight() {
  command -v docker >/dev/null 2>&1 \
    || die "$EXIT_EXTERNAL" "docker is not installed" "install Docker Engine with the compose plugin, or use DEVENV_RUNTIME=native"
  docker compose version >/dev/null 2>&1 \
    || die "$EXIT_EXTERNAL" "the docker compose plugin is missing (\`docker compose version\` failed)" "install docker-compose-plugin (Compose v2), or use DEVENV_RUNTIME=native"
  [[ -f "$COMPOSE_FILE_MAIN" ]] \
    || die "$EXIT_USAGE" "$COMPOSE_FILE_MAIN is missing" "restore it from git: git checkout dev/compose.local.yaml"
  compose_env
  compose_cmd
}

# compose_service NAME — the compose service for a native service name (SERVICE=s3 works too).
compose_service() {
  case "$1" in
    s3) printf minio ;;
    mock_inference) printf mock-inference ;;
    *) printf '%s' "$1" ;;
  esac
}

compose_up() {
  compose_preflight
  local wait="${DEVENV_COMPOSE_WAIT:-180}"
  log_event compose_up_started "project=$COMPOSE_PROJECT"
  # --wait returns once every healthcheck passes (start_interval makes that quick).
  "${COMPOSE[@]}" up --detach --build --wait --wait-timeout "$wait" \
    || die "$EXIT_FAILED" "docker compose up did not reach healthy within ${wait}s" \
      "look at \`scripts/dev/compose.sh logs\` (SERVICE=name for one) and \`scripts/dev/compose.sh ps\`"
  log_event compose_up_done "project=$COMPOSE_PROJECT"
  ok "compose: every service is up and healthy (project $COMPOSE_PROJECT)"
}

compose_stop() {
  compose_preflight
  "${COMPOSE[@]}" stop || die "$EXIT_FAILED" "docker compose stop failed" "run \`docker compose -p $COMPOSE_PROJECT ps\` and stop what is left"
  log_event compose_stopped "project=$COMPOSE_PROJECT"
  ok "compose: stopped (volumes kept)"
}

compose_reset() {
  compose_preflight
  "${COMPOSE[@]}" down --volumes --remove-orphans \
    || die "$EXIT_FAILED" "docker compose down --volumes failed" "run \`docker compose -p $COMPOSE_PROJECT down --volumes\` by hand"
  log_event compose_reset "project=$COMPOSE_PROJECT"
  ok "compose: containers and volumes removed"
}

# compose_logs [SERVICE] — follows the logs (all services, or SERVICE / $SERVICE).
compose_logs() {
  local service="${1:-${SERVICE:-}}"
  compose_preflight
  local args=(logs --follow --tail "${LINES:-200}")
  [[ -n "$service" ]] && args+=("$(compose_service "$service")")
  "${COMPOSE[@]}" "${args[@]}"
}

compose_ps() {
  compose_preflight
  "${COMPOSE[@]}" ps
}

compose_main() {
  local verb="${1:-}"
  case "$verb" in
    up) compose_up ;;
    stop) compose_stop ;;
    reset) compose_reset ;;
    logs) compose_logs "${2:-}" ;;
    ps) compose_ps ;;
    *) die "$EXIT_USAGE" "unknown verb '${verb}' for compose.sh" "use one of: up stop reset logs ps" ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  compose_main "$@"
fi
