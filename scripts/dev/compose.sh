#!/usr/bin/env bash
# The compose branch of the lifecycle:
#   scripts/dev/compose.sh up|stop|restart [SERVICE...] | logs [SERVICE...] | reset | ps | project
# up.sh / stop.sh / restart.sh / reset.sh / logs.sh call it when `runtime` says compose; it can
# also be sourced for its compose_* functions. Every call is
#   docker compose --project-name <project> --env-file <bundle> -f dev/compose.local.yaml \
#                  [-f dev/compose.override.yaml] <verb>
# with DEVENV_COMPOSE_NETWORK=<network> in the environment (the compose file names its network
# from it). Project and network derive from the workspace (compose_names), so two checkouts'
# stacks never collide: the first checkout on this machine to use compose keeps the defaults
# `devenv` / `ai-aas-dev-net`; any other gets `devenv-<hash>` / `ai-aas-dev-net-<hash>`, <hash>
# the first 8 hex digits of the sha256 of its path. DEVENV_COMPOSE_PROJECT overrides both.
# The bundle (.env.local, or .env.linode with MODE=remote) is the only source of credentials
# and host ports. reset does not ask: the caller (reset.sh) has already confirmed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMPOSE_FILE_MAIN="$DEVENV_ROOT/dev/compose.local.yaml"
COMPOSE_FILE_OVERRIDE="$DEVENV_ROOT/dev/compose.override.yaml"

# compose_names — sets COMPOSE_PROJECT and DEVENV_COMPOSE_NETWORK for this workspace. Which
# checkout owns the default names is recorded in $XDG_STATE_HOME/devenv/compose-default-workspace
# (claimed by the first checkout to run compose here; taken over once that checkout is gone).
compose_names() {
  local claim_dir="${XDG_STATE_HOME:-$HOME/.local/state}/devenv" claim owner here hash
  here="$(cd "$DEVENV_ROOT" && pwd -P)"
  hash="$(printf '%s' "$here" | sha256sum | cut -c1-8)"
  if [[ -n "${DEVENV_COMPOSE_PROJECT:-}" ]]; then
    COMPOSE_PROJECT="$DEVENV_COMPOSE_PROJECT"
    DEVENV_COMPOSE_NETWORK="${DEVENV_COMPOSE_NETWORK:-ai-aas-dev-net-$COMPOSE_PROJECT}"
  else
    claim="$claim_dir/compose-default-workspace"
    owner="$(cat "$claim" 2>/dev/null || true)"
    if [[ -z "$owner" || ! -d "$owner" ]]; then
      mkdir -p "$claim_dir" && printf '%s\n' "$here" >"$claim"
      owner="$here"
    fi
    if [[ "$owner" == "$here" ]]; then
      COMPOSE_PROJECT=devenv DEVENV_COMPOSE_NETWORK=ai-aas-dev-net
    else
      COMPOSE_PROJECT="devenv-$hash" DEVENV_COMPOSE_NETWORK="ai-aas-dev-net-$hash"
    fi
  fi
  export COMPOSE_PROJECT DEVENV_COMPOSE_NETWORK
}

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
  # The profiles `make up` recorded (or PROFILES given now): compose's own variable for them.
  COMPOSE_PROFILES="$(active_profiles)" || exit
  export COMPOSE_PROFILES
  export DEVENV_NATS_PORT="${DEVENV_NATS_PORT:-$(url_port "${NATS_URL:-}" 4222)}"
  export DEVENV_S3_PORT="${DEVENV_S3_PORT:-$(url_port "${S3_ENDPOINT:-}" 9000)}"
  export DEVENV_MOCK_INFERENCE_PORT="${DEVENV_MOCK_INFERENCE_PORT:-$(url_port "${MOCK_INFERENCE_URL:-}" 8000)}"
  export DEVENV_VAULT_PORT="${DEVENV_VAULT_PORT:-${VAULT_PORT:-8200}}"
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
  compose_names
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

# compose_services SERVICE... — the compose names of native service names (s3 → minio, …).
compose_services() {
  local svc
  for svc in "$@"; do compose_service "$svc"; printf '\n'; done
}

compose_up() {
  compose_preflight
  local wait="${DEVENV_COMPOSE_WAIT:-180}" services
  mapfile -t services < <(compose_services "$@")
  log_event compose_up_started "project=$COMPOSE_PROJECT"
  # --wait returns once every healthcheck passes (start_interval makes that quick).
  "${COMPOSE[@]}" up --detach --build --wait --wait-timeout "$wait" "${services[@]}" \
    || die "$EXIT_FAILED" "docker compose up did not reach healthy within ${wait}s" \
      "look at \`scripts/dev/compose.sh logs\` (SERVICE=name for one) and \`scripts/dev/compose.sh ps\`"
  log_event compose_up_done "project=$COMPOSE_PROJECT"
  ok "compose: every service is up and healthy (project $COMPOSE_PROJECT)"
}

# compose_each VERB EVENT DONE REMEDY [SERVICE...] — `docker compose VERB` on the named services
# (all when none), one event, one line.
compose_each() {
  local verb="$1" event="$2" done="$3" remedy="$4"
  shift 4
  compose_preflight
  local services
  mapfile -t services < <(compose_services "$@")
  "${COMPOSE[@]}" "$verb" "${services[@]}" || die "$EXIT_FAILED" "docker compose $verb failed" "$remedy"
  log_event "$event" "project=$COMPOSE_PROJECT" "services=${services[*]}"
  ok "compose: $done${services[*]:+ ${services[*]}}"
}
compose_stop() {
  compose_each stop compose_stopped "stopped (volumes kept)" "run \`scripts/dev/compose.sh ps\` and stop what is left" "$@"
}
compose_restart() {
  compose_each restart compose_restarted "restarted" "look at \`scripts/dev/compose.sh ps\` and \`make logs\`" "$@"
}

compose_reset() {
  compose_preflight
  "${COMPOSE[@]}" down --volumes --remove-orphans \
    || die "$EXIT_FAILED" "docker compose down --volumes failed" "run \`docker compose -p $COMPOSE_PROJECT down --volumes\` by hand"
  log_event compose_reset "project=$COMPOSE_PROJECT"
  ok "compose: containers and volumes removed"
}

# compose_logs [SERVICE...] — the logs of every service (or those named, or $SERVICE), each
# line prefixed with its service as docker compose does: LINES=N (default 10), SINCE=10m,
# FOLLOW=0 to print and exit, like the native `devenv logs`.
compose_logs() {
  local services=("$@")
  ((${#services[@]})) || [[ -z "${SERVICE:-}" ]] || IFS=',' read -r -a services <<<"$SERVICE"
  compose_preflight
  local args=(logs --tail "${LINES:-10}")
  [[ "${FOLLOW:-1}" == 0 ]] || args+=(--follow)
  [[ -n "${SINCE:-}" ]] && args+=(--since "$SINCE")
  [[ -t 1 && -z "${NO_COLOR:-}" ]] || args+=(--no-color)
  mapfile -t -O "${#args[@]}" args < <(compose_services "${services[@]}")
  "${COMPOSE[@]}" "${args[@]}"
}

compose_ps() {
  compose_preflight
  "${COMPOSE[@]}" ps
}

compose_main() {
  local verb="${1:-}"
  case "$verb" in
    up) compose_up "${@:2}" ;;
    stop) compose_stop "${@:2}" ;;
    restart) compose_restart "${@:2}" ;;
    reset) compose_reset ;;
    logs) compose_logs "${@:2}" ;;
    ps) compose_ps ;;
    project) compose_names; printf '%s %s\n' "$COMPOSE_PROJECT" "$DEVENV_COMPOSE_NETWORK" ;;
    *) die "$EXIT_USAGE" "unknown verb '${verb}' for compose.sh" "use one of: up stop restart reset logs ps project" ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  compose_main "$@"
fi
