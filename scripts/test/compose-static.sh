#!/usr/bin/env bash
# Static test of the compose runtime (there is no Docker engine in CI):
#  1. dev/compose.local.yaml and dev/compose.override.yaml.example validate against the
#     official compose-spec JSON schema (vendored in dev/compose-spec/, checksum pinned) with
#     check-jsonschema, a real JSON-Schema validator; a mutated copy must fail (the check bites);
#  2. project rules: project name, network, images, profiles, a healthcheck with start_period
#     and start_interval on every service, every published host port and every credential a
#     ${VAR} from the bundle (or DEVENV_*_PORT with the configs/ports.yaml default);
#     mutated copies must fail each rule;
#  3. scripts/dev/compose.sh builds the documented docker compose command line (checked with a
#     recording `docker` on PATH, since no engine can run here): up/stop/restart of one service,
#     logs with LINES/SINCE/FOLLOW, and two checkouts getting two project and network names.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
# shellcheck source=checks.bash
source "$(dirname "$0")/checks.bash"
cd "$DEVENV_ROOT"

SCHEMA=dev/compose-spec/compose-spec.json
SCHEMA_SHA256=d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64
COMPOSE_FILE=dev/compose.local.yaml
OVERRIDE_EXAMPLE=dev/compose.override.yaml.example

# check-jsonschema and PyYAML come from the project venv (scripts/dev/requirements/test.txt).
PYTHON="$(venv_python)" || exit
CHECK_JSONSCHEMA="$(dirname "$PYTHON")/check-jsonschema"
{ [[ -x "$CHECK_JSONSCHEMA" ]] && "$PYTHON" -c 'import yaml' 2>/dev/null; } \
  || die "$EXIT_USAGE" "check-jsonschema or PyYAML is missing from .devenv/venv" "run \`scripts/dev/setup.sh test\`"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pass() { ok "$*"; }

# ── 1. schema ───────────────────────────────────────────────────────────────────────────
actual_sha="$(sha256sum "$SCHEMA" | cut -d' ' -f1)"
[[ "$actual_sha" == "$SCHEMA_SHA256" ]] \
  || die "$EXIT_INTEGRITY" "$SCHEMA changed (sha256 $actual_sha)" "restore it, or update it deliberately as dev/compose-spec/SOURCE.md says"

validate() { "$CHECK_JSONSCHEMA" --schemafile "$SCHEMA" --force-filetype yaml "$@"; }

if validate "$COMPOSE_FILE" "$OVERRIDE_EXAMPLE" >"$work/validate.out" 2>&1; then
  pass "schema: $COMPOSE_FILE and $OVERRIDE_EXAMPLE are valid compose-spec"
else
  cat "$work/validate.out" >&2
  fail "schema validation of $COMPOSE_FILE / $OVERRIDE_EXAMPLE"
fi

# Negative controls: the validator must reject a misspelled healthcheck key and a bad port type.
sed 's/start_interval: 1s/start_intervall: 1s/' "$COMPOSE_FILE" >"$work/bad-key.yaml"
if validate "$work/bad-key.yaml" >/dev/null 2>&1; then fail "schema accepted an unknown healthcheck key"; else pass "schema rejects an unknown healthcheck key"; fi
sed 's/^    restart: unless-stopped$/    restart: [unless-stopped]/' "$COMPOSE_FILE" >"$work/bad-type.yaml"
if validate "$work/bad-type.yaml" >/dev/null 2>&1; then fail "schema accepted a list where a string belongs"; else pass "schema rejects a mistyped field"; fi

# ── 2. project rules ────────────────────────────────────────────────────────────────────
rules() {
  "$PYTHON" - "$1" configs/ports.yaml <<'PY'
import re, sys, yaml

path, ports_path = sys.argv[1], sys.argv[2]
doc = yaml.safe_load(open(path))
port_defaults = yaml.safe_load(open(ports_path))
problems = []

# Bundle keys (DESIGN.md) plus the variables compose.sh derives or the user may set.
BUNDLE = {
    "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB",
    "REDIS_PORT", "REDIS_PASSWORD", "NATS_USER", "NATS_PASSWORD",
    "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION", "MOCK_INFERENCE_MODEL",
}
EXTRA = {"REDIS_APPENDONLY", "RABBITMQ_USER", "RABBITMQ_PASSWORD"}
VAR = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")
WHOLE_VAR = re.compile(r"^\$\{[A-Z0-9_]+(?::?[-?](?:[^{}]|\$\{[^}]*\})*)?\}$")
CRED = re.compile(r"(USER|PASS|PASSWORD|SECRET|KEY|TOKEN)$")

def seconds(d):
    m = re.fullmatch(r"(\d+)(ms|s|m)", str(d))
    if not m:
        problems.append(f"duration {d!r} is not NNs/NNms/NNm")
        return 0
    n, unit = int(m.group(1)), m.group(2)
    return n / 1000 if unit == "ms" else n * 60 if unit == "m" else n

def check_var_use(where, text):
    for name, op, default in VAR.findall(text):
        if name in BUNDLE or name in EXTRA:
            continue
        m = re.fullmatch(r"DEVENV_([A-Z0-9_]+)_PORT", name)
        if not m:
            problems.append(f"{where}: ${{{name}}} is neither a bundle key nor DEVENV_<SERVICE>_PORT")
            continue
        if op != ":-" or not default.isdigit():
            problems.append(f"{where}: ${{{name}}} needs a numeric :- default")
            continue
        key = m.group(1).lower()
        if key in port_defaults and int(default) != int(port_defaults[key]):
            problems.append(f"{where}: ${{{name}}} defaults to {default}, configs/ports.yaml says {port_defaults[key]}")

if doc.get("name") != "devenv":
    problems.append("top-level name must be devenv")
nets = doc.get("networks") or {}
if (nets.get("ai-aas-dev-net") or {}).get("name") != "${DEVENV_COMPOSE_NETWORK:-ai-aas-dev-net}":
    problems.append("network ai-aas-dev-net (with name: ${DEVENV_COMPOSE_NETWORK:-ai-aas-dev-net}) is missing")

services = doc.get("services") or {}
want_images = {"postgres": "postgres:15", "redis": "redis:7", "nats": "nats:2.10", "minio": "minio/minio:"}
for svc, prefix in want_images.items():
    image = (services.get(svc) or {}).get("image", "")
    if not image.startswith(prefix):
        problems.append(f"service {svc}: image {image!r} is not {prefix}*")
mock = services.get("mock-inference") or {}
if (mock.get("build") or {}).get("dockerfile") != "crates/mock-inference/Dockerfile":
    problems.append("mock-inference must build crates/mock-inference/Dockerfile")
if "${MOCK_INFERENCE_MODEL" not in str((mock.get("environment") or {}).get("MODEL_NAME", "")):
    problems.append("mock-inference: MODEL_NAME must come from ${MOCK_INFERENCE_MODEL}")
if "/health" not in str((mock.get("healthcheck") or {}).get("test", "")):
    problems.append("mock-inference: healthcheck must probe /health")
redis_env = str((services.get("redis") or {}).get("environment", {}))
if "${REDIS_APPENDONLY:-" not in redis_env:
    problems.append("redis: persistence toggle ${REDIS_APPENDONLY:-...} missing")
profiles = {p for s in services.values() for p in (s.get("profiles") or [])}
for p in ("rabbitmq", "timescale"):
    if p not in profiles:
        problems.append(f"profile {p} is missing")
if not str((services.get("rabbitmq") or {}).get("image", "")).endswith("-management"):
    problems.append("rabbitmq must use a -management image (management UI)")
if not str((services.get("timescaledb") or {}).get("image", "")).endswith("-pg15"):
    problems.append("timescaledb must be a -pg15 image")

for name, svc in services.items():
    if "container_name" in svc:
        problems.append(f"service {name}: container_name would collide between two checkouts' stacks")
    hc = svc.get("healthcheck")
    if not hc or not hc.get("test") or hc.get("disable"):
        problems.append(f"service {name}: no healthcheck")
    else:
        for key in ("interval", "timeout", "retries", "start_period", "start_interval"):
            if key not in hc:
                problems.append(f"service {name}: healthcheck lacks {key}")
        if "interval" in hc and "timeout" in hc and seconds(hc["interval"]) < seconds(hc["timeout"]):
            problems.append(f"service {name}: healthcheck interval < timeout")
    if "ai-aas-dev-net" not in (svc.get("networks") or []):
        problems.append(f"service {name}: not on ai-aas-dev-net")
    for port in svc.get("ports") or []:
        if not isinstance(port, str):
            problems.append(f"service {name}: port {port!r} must be a \"${{VAR}}:container\" string")
            continue
        host, _, container = port.rpartition(":")
        if not WHOLE_VAR.match(host):
            problems.append(f"service {name}: published port {port!r} has a literal host port")
        check_var_use(f"service {name} port", host)
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    for key, value in env.items():
        check_var_use(f"service {name} env {key}", str(value))
        if CRED.search(key) and not WHOLE_VAR.match(str(value)):
            problems.append(f"service {name}: credential {key} is a literal, not a ${{VAR}}")
    cmd = svc.get("command") or []
    if isinstance(cmd, list):
        for flag, value in zip(cmd, cmd[1:]):
            if flag in ("--user", "--pass", "--password", "--requirepass") and not WHOLE_VAR.match(str(value)):
                problems.append(f"service {name}: {flag} {value!r} is a literal credential")

sys.stdout.writelines(p + "\n" for p in problems)
sys.exit(1 if problems else 0)
PY
}

expect_clean "$work/rules.out" \
  "rules: healthchecks with start_period/start_interval everywhere; ports and credentials are bundle variables" \
  "project rules for $COMPOSE_FILE" rules "$COMPOSE_FILE"

# Each mutation breaks one rule; the rule checker must name it.
expect_rule_failure() { mutation_caught "$work/mut.out" "$1" "$2" rules "$3"; }
# shellcheck disable=SC2016 # the ${...} are literal compose text, not shell
sed 's/"${POSTGRES_PORT:-5432}:5432"/"5432:5432"/' "$COMPOSE_FILE" >"$work/m1.yaml"
expect_rule_failure "a literal host port" "literal host port" "$work/m1.yaml"
# shellcheck disable=SC2016
sed 's/POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?run make secrets-sync to write .env.local}/POSTGRES_PASSWORD: dev_password/' "$COMPOSE_FILE" >"$work/m2.yaml"
expect_rule_failure "a literal password" "credential POSTGRES_PASSWORD is a literal" "$work/m2.yaml"
"$PYTHON" - "$COMPOSE_FILE" "$work/m3.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
del doc["services"]["redis"]["healthcheck"]
del doc["services"]["nats"]["healthcheck"]["start_interval"]
yaml.safe_dump(doc, open(sys.argv[2], "w"))
PY
expect_rule_failure "a service without a healthcheck" "service redis: no healthcheck" "$work/m3.yaml"
expect_rule_failure "a healthcheck without start_interval" "service nats: healthcheck lacks start_interval" "$work/m3.yaml"
sed 's/DEVENV_NATS_PORT:-4222/DEVENV_NATS_PORT:-4333/' "$COMPOSE_FILE" >"$work/m4.yaml"
expect_rule_failure "a port default that disagrees with configs/ports.yaml" "configs/ports.yaml says 4222" "$work/m4.yaml"

# ── 3. compose.sh command line ──────────────────────────────────────────────────────────
# No engine here, so a recording `docker` stands in for the client: it proves the argv and
# the environment compose.sh hands to `docker compose`, nothing more.
mkdir -p "$work/bin" "$work/root/scripts/dev" "$work/root/dev"
cp scripts/dev/lib.sh scripts/dev/compose.sh "$work/root/scripts/dev/"
cp "$COMPOSE_FILE" "$work/root/dev/"
cat >"$work/bin/docker" <<'SH'
#!/usr/bin/env bash
{ printf '%s\n' "$*"; printf 'env DEVENV_NATS_PORT=%s DEVENV_S3_PORT=%s DEVENV_MOCK_INFERENCE_PORT=%s\n' \
    "${DEVENV_NATS_PORT:-}" "${DEVENV_S3_PORT:-}" "${DEVENV_MOCK_INFERENCE_PORT:-}"
  printf 'network %s\n' "${DEVENV_COMPOSE_NETWORK:-}"
  printf 'profiles %s vault-port %s\n' "${COMPOSE_PROFILES:-}" "${DEVENV_VAULT_PORT:-}"; } >>"$DOCKER_LOG"
SH
chmod +x "$work/bin/docker"
cat >"$work/root/.env.local" <<'ENV'
POSTGRES_PORT=5432
NATS_URL='nats://127.0.0.1:4300'
S3_ENDPOINT='http://127.0.0.1:9100'
MOCK_INFERENCE_URL='http://127.0.0.1:8100/v1'
ENV
export DOCKER_LOG="$work/docker.log"
# Which checkout owns the default project name is machine state: keep the test's own.
export XDG_STATE_HOME="$work/state"
run_compose() { PATH="$work/bin:$PATH" bash "$work/root/scripts/dev/compose.sh" "$@"; }

: >"$DOCKER_LOG"
run_compose up >/dev/null
prefix="compose --project-name devenv --env-file $work/root/.env.local -f $work/root/dev/compose.local.yaml"
if grep -qxF "$prefix up --detach --build --wait --wait-timeout 180" "$DOCKER_LOG"; then pass "compose.sh up runs the documented command"; else cat "$DOCKER_LOG" >&2; fail "compose.sh up argv"; fi
if grep -qxF "env DEVENV_NATS_PORT=4300 DEVENV_S3_PORT=9100 DEVENV_MOCK_INFERENCE_PORT=8100" "$DOCKER_LOG"; then pass "compose.sh derives DEVENV_*_PORT from the bundle URLs"; else cat "$DOCKER_LOG" >&2; fail "compose.sh port derivation"; fi
if grep -qxF "profiles  vault-port 8200" "$DOCKER_LOG"; then pass "compose.sh: no profile unless one is given or remembered"; else cat "$DOCKER_LOG" >&2; fail "compose.sh profiles (none)"; fi
# PROFILES= becomes compose's COMPOSE_PROFILES; what make up recorded (.devenv/profiles) is used
# when PROFILES is not given, so status/stop/logs cover the same services.
: >"$DOCKER_LOG"
echo "VAULT_PORT=8299" >>"$work/root/.env.local"
PROFILES=vault,rabbitmq run_compose up >/dev/null
mkdir -p "$work/root/.devenv" && echo "rabbitmq" >"$work/root/.devenv/profiles"
run_compose stop >/dev/null
if grep -qxF "profiles vault,rabbitmq vault-port 8299" "$DOCKER_LOG" && grep -qxF "profiles rabbitmq vault-port 8299" "$DOCKER_LOG"; then
  pass "compose.sh: PROFILES → COMPOSE_PROFILES, else the remembered profiles; the vault port from the bundle"
else
  cat "$DOCKER_LOG" >&2; fail "compose.sh profiles"
fi
rc=0; PROFILES=vault,bogus run_compose up >/dev/null 2>"$work/err" || rc=$?
if [[ $rc == 2 ]] && grep -q "'bogus' is not a profile" "$work/err" && grep -q "fix:" "$work/err"; then
  pass "compose.sh: an unknown profile is exit 2 with the remedy"
else
  cat "$work/err" >&2; fail "compose.sh unknown profile (exit $rc)"
fi
rm -f "$work/root/.devenv/profiles"

: >"$DOCKER_LOG"
touch "$work/root/dev/compose.override.yaml"
SERVICE=s3 LINES=200 run_compose logs >/dev/null
run_compose logs mock_inference >/dev/null
run_compose reset >/dev/null
if grep -qxF "$prefix -f $work/root/dev/compose.override.yaml logs --tail 200 --follow --no-color minio" "$DOCKER_LOG" \
  && grep -qxF "$prefix -f $work/root/dev/compose.override.yaml logs --tail 10 --follow --no-color mock-inference" "$DOCKER_LOG" \
  && grep -qxF "$prefix -f $work/root/dev/compose.override.yaml down --volumes --remove-orphans" "$DOCKER_LOG"; then
  pass "compose.sh adds the override file; logs takes SERVICE=s3 (→ minio) or an argument (mock_inference → mock-inference)"
else
  cat "$DOCKER_LOG" >&2; fail "compose.sh override / logs / reset argv"
fi

# One service at a time, and logs in the native shape (no colour through a pipe).
: >"$DOCKER_LOG"
run_compose up redis >/dev/null
run_compose stop s3 >/dev/null
run_compose restart postgres mock_inference >/dev/null
FOLLOW=0 SINCE=10m run_compose logs >/dev/null
p2="$prefix -f $work/root/dev/compose.override.yaml"
if grep -qxF "$p2 up --detach --build --wait --wait-timeout 180 redis" "$DOCKER_LOG" \
  && grep -qxF "$p2 stop minio" "$DOCKER_LOG" \
  && grep -qxF "$p2 restart postgres mock-inference" "$DOCKER_LOG" \
  && grep -qxF "$p2 logs --tail 10 --since 10m --no-color" "$DOCKER_LOG"; then
  pass "compose.sh: up/stop/restart one service (s3 → minio), logs with SINCE and FOLLOW=0"
else
  cat "$DOCKER_LOG" >&2; fail "compose.sh per-service argv"
fi

# Two checkouts, two stacks: the first keeps devenv / ai-aas-dev-net, a second one (another path)
# gets both names suffixed with its path's hash; the first still gets the defaults afterwards.
mkdir -p "$work/root2"
cp -r "$work/root/scripts" "$work/root/dev" "$work/root/.env.local" "$work/root2/"
: >"$DOCKER_LOG"
PATH="$work/bin:$PATH" bash "$work/root2/scripts/dev/compose.sh" up >/dev/null
hash2="$(printf '%s' "$(cd "$work/root2" && pwd -P)" | sha256sum | cut -c1-8)"
if grep -q "^compose --project-name devenv-$hash2 " "$DOCKER_LOG" && grep -qxF "network ai-aas-dev-net-$hash2" "$DOCKER_LOG"; then
  pass "a second checkout gets its own project and network (devenv-$hash2 / ai-aas-dev-net-$hash2)"
else
  cat "$DOCKER_LOG" >&2; fail "second checkout's compose names"
fi
: >"$DOCKER_LOG"
run_compose up >/dev/null
if grep -q "^compose --project-name devenv " "$DOCKER_LOG" && grep -qxF "network ai-aas-dev-net" "$DOCKER_LOG"; then
  pass "the first checkout keeps devenv / ai-aas-dev-net"
else
  cat "$DOCKER_LOG" >&2; fail "first checkout's compose names"
fi
read -r p1 _ < <(run_compose project)
read -r p2name _ < <(PATH="$work/bin:$PATH" bash "$work/root2/scripts/dev/compose.sh" project)
if [[ "$p1" != "$p2name" ]]; then pass "compose.sh project: two checkouts, two names ($p1, $p2name)"; else fail "both checkouts are project $p1"; fi
# The rule bites: a compose file naming its network literally would join the stacks again.
# shellcheck disable=SC2016 # the ${...} is literal compose text, not shell
sed 's/name: ${DEVENV_COMPOSE_NETWORK:-ai-aas-dev-net}/name: ai-aas-dev-net/' "$COMPOSE_FILE" >"$work/m5.yaml"
expect_rule_failure "a literal network name" "network ai-aas-dev-net" "$work/m5.yaml"
rm -rf "$work/root2/dev/compose.override.yaml"

rc=0; run_compose frobnicate >/dev/null 2>"$work/err" || rc=$?
if [[ $rc -eq $EXIT_USAGE ]] && grep -q 'fix: use one of: up stop restart reset logs ps project' "$work/err"; then pass "compose.sh rejects an unknown verb with exit 2 and a remedy"; else fail "compose.sh unknown verb (rc=$rc)"; fi
rm "$work/root/.env.local"
rc=0; run_compose up >/dev/null 2>"$work/err" || rc=$?
if [[ $rc -eq $EXIT_USAGE ]] && grep -q 'make secrets-sync' "$work/err"; then pass "compose.sh without a bundle: exit 2, says make secrets-sync"; else cat "$work/err" >&2; fail "compose.sh without bundle (rc=$rc)"; fi

finish compose-static "see the FAIL lines above"
ok "compose-static: all checks passed"
