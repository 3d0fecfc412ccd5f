#!/usr/bin/env bash
# Remote workspaces: `scripts/dev/remote.sh up|status|logs|reset|destroy|reap` (make remote-*).
# A workspace is a tagged Linode instance (dev/remote/terraform) running the suite under systemd
# (dev/systemd, dev/remote/suite.sh). See dev/remote/README.md.
#
# Transport to the workspace host (DEVENV_REMOTE_TRANSPORT):
#   ssh    (default) ssh -i $DEVENV_SSH_KEY devenv@<host>; host = DEVENV_REMOTE_HOST, else the
#          Terraform output public_ipv4 of this workspace.
#   netns  `ip netns exec $DEVENV_REMOTE_NETNS` — the host is a Linux network namespace on this
#          machine (scripts/test/remote-netns.sh). The suite there is $DEVENV_REMOTE_SUITE.
# status probes the services from here to the bundle's hosts (DEVENV_REMOTE_PROBE=direct, the
# default with netns or when DEVENV_REMOTE_PROBE says so), or runs the probes on the host over
# the transport (DEVENV_REMOTE_PROBE=agent, the default with ssh: the firewall only admits SSH).
# Every probe has a deadline of DEVENV_REMOTE_TIMEOUT seconds (default 3); they run in parallel.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TF_MODULE="$DEVENV_ROOT/dev/remote/terraform"
REMOTE_DIR="$STATE_DIR/remote"
TRANSPORT="${DEVENV_REMOTE_TRANSPORT:-ssh}"
TIMEOUT="${DEVENV_REMOTE_TIMEOUT:-3}"
SSH_KEY="${DEVENV_SSH_KEY:-$HOME/.ssh/id_ed25519}"
SSH_USER="${DEVENV_SSH_USER:-devenv}"
LINODE_API="${DEVENV_LINODE_API:-https://api.linode.com/v4}"
REMOTE_BUNDLE="${DEVENV_REMOTE_BUNDLE:-$DEVENV_ROOT/.env.linode}"
JSON=0

[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] \
  || die "$EXIT_USAGE" "DEVENV_REMOTE_TIMEOUT=$TIMEOUT is not a whole number of seconds" "e.g. DEVENV_REMOTE_TIMEOUT=3"

workspace_id() { printf '%s' "${DEVENV_WORKSPACE:-$(basename "$DEVENV_ROOT")-${USER:-$(id -un)}}"; }
owner() { printf '%s' "${DEVENV_OWNER:-${USER:-$(id -un)}}"; }
region() { printf '%s' "${DEVENV_REGION:-us-east}"; }

# remote_event EVENT [k=v...] — the lifecycle event in .devenv/events.jsonl (with ts, actor and
# correlation_id) through `devenv event`; with DEVENV_LOKI_URL set, `dev-status ship-events`
# forwards it (labels workspace_id, owner, region) through the one locked cursor, so each
# event reaches Loki once. Never fatal: the stream is observability, not state.
remote_event() {
  local event="$1"; shift
  log_event "$event" "workspace_id=$(workspace_id)" "transport=$TRANSPORT" "$@"
  [[ -n "${DEVENV_LOKI_URL:-}" ]] || return 0
  DEVENV_WORKSPACE="$(workspace_id)" DEVENV_OWNER="$(owner)" DEVENV_REGION="$(region)" \
    "$(bin dev-status)" ship-events \
    || warn "could not ship the event to Loki at $DEVENV_LOKI_URL (kept in .devenv/events.jsonl; the next run ships it)"
}

# ── prerequisites: each names its remedy ────────────────────────────────────────────────
need_cmd() { command -v "$1" >/dev/null 2>&1 || die "$EXIT_USAGE" "$1 is not installed" "$2"; }
need_terraform() { need_cmd terraform "install Terraform ≥ 1.6 (https://developer.hashicorp.com/terraform/install) and rerun"; }
need_linode_token() {
  [[ -n "${LINODE_TOKEN:-}" ]] || die "$EXIT_USAGE" "LINODE_TOKEN is not set" "create a personal access token (Linodes + Firewalls + StackScripts read/write) in the Linode Cloud Manager and export LINODE_TOKEN"
}
need_vault() {
  [[ -n "${VAULT_ADDR:-}" ]] || die "$EXIT_USAGE" "VAULT_ADDR is not set (remote bundles come from Vault)" "export VAULT_ADDR=https://vault.example:8200 and run \`vault login\`"
  [[ -n "${VAULT_TOKEN:-}" || -s "$HOME/.vault-token" ]] || die "$EXIT_USAGE" "not logged in to Vault (no VAULT_TOKEN, no ~/.vault-token)" "run \`vault login -method=oidc\` (or export VAULT_TOKEN)"
}
need_ssh_key() {
  [[ -r "$SSH_KEY" && -r "$SSH_KEY.pub" ]] || die "$EXIT_USAGE" "SSH key $SSH_KEY (and .pub) not found" "create one with \`ssh-keygen -t ed25519 -f $SSH_KEY\` or set DEVENV_SSH_KEY"
}
need_bundle() {
  [[ -r "$REMOTE_BUNDLE" ]] || die "$EXIT_USAGE" "$REMOTE_BUNDLE does not exist" "run \`MODE=remote make secrets-sync\` (or \`make remote-up\`), or set DEVENV_REMOTE_BUNDLE"
}

need_transport() {
  case "$TRANSPORT" in
    ssh) need_cmd ssh "install openssh-client"; need_ssh_key ;;
    netns)
      need_cmd ip "install iproute2"
      [[ -n "${DEVENV_REMOTE_NETNS:-}" ]] || die "$EXIT_USAGE" "DEVENV_REMOTE_TRANSPORT=netns needs DEVENV_REMOTE_NETNS" "set DEVENV_REMOTE_NETNS to the namespace that plays the workspace host"
      ip netns list | grep -qw -- "$DEVENV_REMOTE_NETNS" || die "$EXIT_USAGE" "network namespace $DEVENV_REMOTE_NETNS does not exist" "create it (see scripts/test/remote-netns.sh) or unset DEVENV_REMOTE_TRANSPORT"
      ;;
    *) die "$EXIT_USAGE" "DEVENV_REMOTE_TRANSPORT=$TRANSPORT is not a transport" "use ssh or netns" ;;
  esac
}

tf() {
  TF_DATA_DIR="$REMOTE_DIR/$(workspace_id)/.terraform" TF_IN_AUTOMATION=1 terraform -chdir="$TF_MODULE" "$@"
}
tf_init() {
  mkdir -p "$REMOTE_DIR/$(workspace_id)"
  tf init -input=false -no-color -backend-config="path=$REMOTE_DIR/$(workspace_id)/terraform.tfstate" >/dev/null \
    || die "$EXIT_EXTERNAL" "terraform init failed in $TF_MODULE" "check network access to registry.terraform.io (the linode provider) and rerun"
}

remote_host() {
  if [[ -n "${DEVENV_REMOTE_HOST:-}" ]]; then printf '%s' "$DEVENV_REMOTE_HOST"; return; fi
  need_terraform
  local host
  host="$(tf output -raw public_ipv4 2>/dev/null)" || host=""
  [[ -n "$host" ]] \
    || die "$EXIT_USAGE" "no remote workspace '$(workspace_id)' is known here" "run \`make remote-up\` first, or set DEVENV_REMOTE_HOST"
  printf '%s' "$host"
}

# remote_exec ARGS... — run the host's suite.sh with ARGS over the transport.
remote_exec() {
  case "$TRANSPORT" in
    netns) timeout "${REMOTE_EXEC_TIMEOUT:-120}" ip netns exec "$DEVENV_REMOTE_NETNS" \
      "${DEVENV_REMOTE_SUITE:-$DEVENV_ROOT/dev/remote/suite.sh}" "$@" ;;
    ssh) ssh -i "$SSH_KEY" -o BatchMode=yes -o ConnectTimeout="$TIMEOUT" -o StrictHostKeyChecking=accept-new \
      "$SSH_USER@$(remote_host)" sudo "${DEVENV_REMOTE_SUITE:-/opt/devenv/dev/remote/suite.sh}" "$@" ;;
  esac
}

# ── status ──────────────────────────────────────────────────────────────────────────────
# status_direct — dev-status against the remote bundle: every probe in parallel, each with a
# deadline of DEVENV_REMOTE_TIMEOUT seconds, classified, with remedies; --json as it prints it.
status_direct() {
  need_bundle
  local only services
  services="${DEVENV_REMOTE_SERVICES:-postgres redis nats s3 mock-inference}"
  only="$(tr ' -' ',_' <<<"$services")"
  local format=(--human)
  ((JSON)) && format=(--json)
  DEVENV_WORKSPACE="$(workspace_id)" DEVENV_OWNER="$(owner)" DEVENV_REGION="$(region)" \
    "$(bin dev-status)" "${format[@]}" --env-file "$REMOTE_BUNDLE" --only "$only" \
    --probe-timeout-ms "$((TIMEOUT * 1000))" --threshold-ms "$((TIMEOUT * 1000))"
}

cmd_status() {
  local mode="${DEVENV_REMOTE_PROBE:-}"
  [[ -n "$mode" ]] || { [[ "$TRANSPORT" == netns ]] && mode=direct || mode=agent; }
  need_transport
  local rc=0
  case "$mode" in
    direct) status_direct || rc=$? ;;
    agent) remote_exec status-local || rc=$? ;;
    *) die "$EXIT_USAGE" "DEVENV_REMOTE_PROBE=$mode is not a probe mode" "use direct or agent" ;;
  esac
  remote_event remote_status "healthy=$( ((rc == 0)) && echo true || echo false)"
  ((rc == 0)) || { warn "remote workspace $(workspace_id) is not healthy"; exit "$EXIT_FAILED"; }
}

# ── logs / reset ────────────────────────────────────────────────────────────────────────
cmd_logs() {
  need_transport
  local lines="${LINES:-100}"
  [[ "$lines" =~ ^[0-9]+$ ]] || die "$EXIT_USAGE" "LINES=$lines is not a number" "e.g. LINES=200 make remote-logs"
  remote_event remote_logs "service=${SERVICE:-all}"
  remote_exec logs "$lines" "${SERVICE:-}" \
    || die "$EXIT_EXTERNAL" "could not read the logs of workspace $(workspace_id) over $TRANSPORT" "check \`make remote-status\` and your SSH access"
}

confirm() {
  [[ "${FORCE:-0}" == 1 ]] && return 0
  [[ -t 0 ]] || die "$EXIT_USAGE" "$1 needs confirmation and stdin is not a terminal" "rerun with FORCE=1"
  local answer
  read -r -p "$1 — type the workspace id ($(workspace_id)) to confirm: " answer
  [[ "$answer" == "$(workspace_id)" ]] || die "$EXIT_USAGE" "not confirmed; nothing changed" "type the workspace id exactly, or use FORCE=1"
}

cmd_reset() {
  need_transport
  confirm "wipe every service's data on remote workspace $(workspace_id)"
  remote_event remote_reset_started
  remote_exec reset || die "$EXIT_FAILED" "remote reset of $(workspace_id) failed" "read \`make remote-logs\`; the data directory may be half-wiped, rerun \`make remote-reset\`"
  remote_event remote_reset_done
  ok "remote workspace $(workspace_id): data wiped, services healthy again"
}

# ── up / destroy / reap (Terraform + Linode API) ───────────────────────────────────────
tfvars_file() { printf '%s/%s/terraform.tfvars.json' "$REMOTE_DIR" "$(workspace_id)"; }

cmd_up() {
  need_terraform
  need_linode_token
  need_vault
  need_ssh_key
  local created_at
  created_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  mkdir -p "$REMOTE_DIR/$(workspace_id)"
  # The inputs are kept so destroy and later applies use exactly the same ones.
  if [[ ! -f "$(tfvars_file)" ]]; then
    [[ "${DEVENV_TTL_HOURS:-24}" =~ ^[1-9][0-9]*$ ]] \
      || die "$EXIT_USAGE" "DEVENV_TTL_HOURS=${DEVENV_TTL_HOURS} is not a whole number of hours" "e.g. DEVENV_TTL_HOURS=24"
    "$(bin devenv)" json "workspace_id=$(workspace_id)" "owner=$(owner)" "region=$(region)" \
      "ttl_hours:=${DEVENV_TTL_HOURS:-24}" "created_at=$created_at" \
      "instance_type=${DEVENV_INSTANCE_TYPE:-g6-standard-2}" "ssh_public_keys[]=$(cat "$SSH_KEY.pub")" >"$(tfvars_file)" \
      || die "$EXIT_USAGE" "could not write $(tfvars_file)" "check the values named above"
  fi
  remote_event remote_up_started "owner=$(owner)" "region=$(region)"
  tf_init
  tf apply -input=false -no-color -auto-approve -var-file="$(tfvars_file)" \
    || die "$EXIT_EXTERNAL" "terraform apply failed for workspace $(workspace_id)" "read the Terraform error above; \`make remote-destroy\` cleans up a half-created workspace"
  local host
  host="$(remote_host)"
  info "instance $(tf output -raw instance_id) at $host (private $(tf output -raw private_ip)); waiting for the StackScript"
  local deadline=$((SECONDS + ${DEVENV_REMOTE_BOOT_TIMEOUT:-900}))
  until ssh -i "$SSH_KEY" -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=accept-new \
    "$SSH_USER@$host" test -f /var/lib/devenv/.stackscript-done 2>/dev/null; do
    ((SECONDS < deadline)) || die "$EXIT_TIMEOUT" "the StackScript on $host did not finish in time" "ssh $SSH_USER@$host sudo cat /var/log/stackscript.log"
    sleep 5
  done
  # The bundle is written on the host by secrets-sync (Vault), renewed by its timer.
  ssh -i "$SSH_KEY" -o BatchMode=yes "$SSH_USER@$host" sudo systemctl start secrets-sync.service devenv.target \
    || die "$EXIT_EXTERNAL" "could not start the suite on $host" "ssh $SSH_USER@$host sudo journalctl -u 'devenv-*'"
  remote_event remote_up_done "host=$host"
  ok "remote workspace $(workspace_id) is up at $host; \`make remote-status\` checks it"
}

cmd_destroy() {
  need_terraform
  need_linode_token
  [[ -f "$(tfvars_file)" ]] || die "$EXIT_USAGE" "no remote workspace '$(workspace_id)' was created from this checkout" "set DEVENV_WORKSPACE to the one to destroy, or use \`make remote-reap\`"
  confirm "destroy remote workspace $(workspace_id) and all its data"
  remote_event remote_destroy_started
  tf_init
  tf destroy -input=false -no-color -auto-approve -var-file="$(tfvars_file)" \
    || die "$EXIT_EXTERNAL" "terraform destroy failed for $(workspace_id)" "rerun \`make remote-destroy\`; check the Linode Cloud Manager for leftovers"
  rm -f "$(tfvars_file)"
  remote_event remote_destroy_done
  ok "remote workspace $(workspace_id) destroyed"
}

# reap — destroys every devenv instance whose ttl tag (ttl:<UTC time>) has passed, through the
# Linode API (the instances may belong to other checkouts). DRY_RUN=1 only lists them.
cmd_reap() {
  need_linode_token
  need_cmd python3 "install python3"
  # The token goes to curl through a config on a pipe (printf is a builtin), never in argv.
  auth_config() { printf 'header = "Authorization: Bearer %s"\n' "$LINODE_TOKEN"; }
  local listing
  listing="$(curl -fsS --max-time 30 -K <(auth_config) -H 'X-Filter: {"tags": "devenv"}' "$LINODE_API/linode/instances?page_size=500")" \
    || die "$EXIT_EXTERNAL" "listing instances at $LINODE_API failed" "check LINODE_TOKEN's scopes (Linodes read/write) and the network"
  local expired
  expired="$(python3 -c '
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc)
for inst in json.load(sys.stdin).get("data", []):
    tags = dict(t.split(":", 1) for t in inst.get("tags", []) if ":" in t)
    if "devenv" not in inst.get("tags", []) or "ttl" not in tags:
        continue
    ws = tags.get("workspace_id", "?")
    try:
        ttl = datetime.datetime.strptime(tags["ttl"], "%Y-%m-%dT%H:%MZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        print("\t".join(["skip", str(inst["id"]), ws, "unreadable ttl tag " + repr(tags["ttl"])]))
        continue
    if ttl <= now:
        print("\t".join(["reap", str(inst["id"]), ws, tags["ttl"]]))
' <<<"$listing")" || die "$EXIT_EXTERNAL" "the Linode API answer was not the documented instance list" "check DEVENV_LINODE_API ($LINODE_API)"
  local action id ws ttl count=0
  while IFS=$'\t' read -r action id ws ttl; do
    [[ -n "$action" ]] || continue
    if [[ "$action" == skip ]]; then warn "instance $id ($ws): $ttl — left alone"; continue; fi
    if [[ "${DRY_RUN:-0}" == 1 ]]; then info "would reap instance $id (workspace $ws, ttl $ttl)"; continue; fi
    curl -fsS --max-time 30 -X DELETE -K <(auth_config) "$LINODE_API/linode/instances/$id" >/dev/null \
      || die "$EXIT_EXTERNAL" "deleting instance $id failed" "rerun \`make remote-reap\`; check the token's write scope"
    DEVENV_WORKSPACE="$ws" remote_event remote_reaped "instance_id=$id" "ttl=$ttl"
    ok "reaped instance $id (workspace $ws, ttl $ttl passed)"
    count=$((count + 1))
  done <<<"$expired"
  info "reap: $count expired workspace(s) destroyed"
}

main() {
  local verb="${1:-}"
  shift || true
  for arg in "$@"; do
    case "$arg" in
      --json) JSON=1 ;;
      *) die "$EXIT_USAGE" "unknown option '$arg'" "the only option is --json (status)" ;;
    esac
  done
  case "$verb" in
    up) cmd_up ;;
    status) cmd_status ;;
    logs) cmd_logs ;;
    reset) cmd_reset ;;
    destroy) cmd_destroy ;;
    reap) cmd_reap ;;
    *) die "$EXIT_USAGE" "unknown verb '${verb}' for remote.sh" "use one of: up status logs reset destroy reap" ;;
  esac
}

main "$@"
