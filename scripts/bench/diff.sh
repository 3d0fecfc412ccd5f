#!/usr/bin/env bash
# config-diff benchmark: generated environments of 100, 1,000 and 10,000 services (anchors,
# merge keys, x-* fields, interpolation, healthchecks, ~10% drift between the two sides).
# Goals: 1,000 services ≤ 100 ms end to end; time linear in size (10x services ≤ 15x time).
# Peers in the same run: `diff -u` of the two files (what `docker compose config | diff`
# reduces to; no Docker engine here) and a PyYAML structural comparison (the approach of
# dyff: parse both documents, compare the trees; dyff itself is not installable offline).
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"

command -v hyperfine >/dev/null || die "$EXIT_USAGE" "hyperfine is not installed" "run \`scripts/dev/setup.sh bench\`"
PYTHON="$(venv_python)" || exit
"$PYTHON" -c 'import yaml' 2>/dev/null || die "$EXIT_USAGE" "PyYAML (the structural peer) is missing from .devenv/venv" "run \`scripts/dev/setup.sh bench\`"
config_diff="$(bin config-diff)"
work="$(mktemp -d "${TMPDIR:-/tmp}/config-diff-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
SIZES="${SIZES:-100 1000 10000}"

# gen N SIDE: a compose file of N services; the target side drifts every 10th service.
# The ${VAR:-…} in the generated text are for config-diff to interpolate, not for bash.
# shellcheck disable=SC2016
gen() {
  local n="$1" side="$2"
  {
    printf 'x-common: &common\n  restart: unless-stopped\n  networks: [net]\n'
    printf 'x-health: &health\n  interval: ${HC_INTERVAL:-10s}\n  timeout: 3s\n  retries: 5\n'
    printf 'services:\n'
    local i tag port env
    for ((i = 0; i < n; i++)); do
      tag="15.$((i % 7))"; env="value-$i"; port="$((20000 + i))"
      if [[ "$side" == target ]] && ((i % 10 == 3)); then tag="16.1"; env="changed-$i"; fi
      printf '  svc-%d:\n    <<: *common\n    image: registry.local/team/svc-%d:%s\n' "$i" "$i" "$tag"
      printf '    environment:\n      SERVICE_NAME: svc-%d\n      SETTING: %s\n      DB_PASSWORD: ${DB_PASSWORD:-pw-%d}\n      PORT: "8080"\n' "$i" "$env" "$i"
      if ! { [[ "$side" == target ]] && ((i % 50 == 7)); }; then
        printf '    ports:\n      - "${BASE_PORT:-%d}:8080"\n' "$port"
      fi
      printf '    volumes:\n      - data-%d:/var/lib/svc\n      - ./conf/svc-%d:/etc/svc:ro\n' "$i" "$i"
      printf '    healthcheck:\n      <<: *health\n      test: ["CMD", "wget", "-q", "http://127.0.0.1:8080/health"]\n'
      printf '    x-owner: team-%d\n' "$((i % 13))"
    done
    printf 'networks:\n  net:\n'
  } > "$work/$side-$n.yaml"
}

cat > "$work/structural.py" <<'PY'
import sys, yaml
a = yaml.safe_load(open(sys.argv[1])); b = yaml.safe_load(open(sys.argv[2]))
def walk(x, y, path, out):
    if isinstance(x, dict) and isinstance(y, dict):
        for k in x.keys() | y.keys():
            walk(x.get(k), y.get(k), f"{path}.{k}", out)
    elif x != y:
        out.append(path)
out = []
walk(a, b, "", out)
print(len(out))
PY

results="$work/results.tsv"
for n in $SIZES; do
  gen "$n" source
  gen "$n" target
  info "── $n services ($(wc -c < "$work/source-$n.yaml") bytes per side)"
  # The PyYAML peer needs about a minute per run at 10,000 services: fewer runs there.
  runs=(--warmup 3 --min-runs 10)
  ((n >= 10000)) && runs=(--warmup 1 --runs 3)
  hyperfine "${runs[@]}" --style basic -N -i \
    --export-json "$work/h-$n.json" \
    -n "config-diff" "$config_diff --quiet $work/source-$n.yaml $work/target-$n.yaml" \
    -n "diff -u" "diff -u $work/source-$n.yaml $work/target-$n.yaml" \
    -n "pyyaml structural" "$PYTHON $work/structural.py $work/source-$n.yaml $work/target-$n.yaml"
  jq -r --arg n "$n" '.results[] | [$n, .command, (.mean * 1000), ((.user + .system) * 1000)] | @tsv' "$work/h-$n.json" >> "$results"
done

info ""
info "services  tool               wall ms   cpu ms  wall µs/service"
awk -F'\t' '{ printf "%8d  %-18s %8.1f %8.1f %10.1f\n", $1, $2, $3, $4, $3 * 1000 / $1 }' "$results"
info "(cpu = user + system over all threads; config-diff loads the two sides on two threads)"

ours() { awk -F'\t' -v n="$1" -v col="${2:-3}" '$1 == n && $2 == "config-diff" { print $col }' "$results"; }
failed=0
if [[ " $SIZES " == *" 1000 "* ]]; then
  t1k="$(ours 1000)"
  if awk -v t="$t1k" 'BEGIN { exit !(t <= 100) }'; then ok "1,000 services: ${t1k} ms ≤ 100 ms"; else warn "1,000 services: ${t1k} ms > 100 ms goal"; failed=1; fi
  if [[ " $SIZES " == *" 10000 "* ]]; then
    # Linearity on CPU time: wall time at 10,000 services also measures how busy the other
    # core is (page faults of ~150 MB), which says nothing about the algorithm.
    ratio="$(awk -v a="$(ours 10000 4)" -v b="$(ours 1000 4)" 'BEGIN { printf "%.1f", a / b }')"
    wall_ratio="$(awk -v a="$(ours 10000)" -v b="$t1k" 'BEGIN { printf "%.1f", a / b }')"
    if awk -v r="$ratio" 'BEGIN { exit !(r <= 15) }'; then ok "linear: 10x services took ${ratio}x CPU time (${wall_ratio}x wall)"; else warn "not linear: 10x services took ${ratio}x CPU time (${wall_ratio}x wall)"; failed=1; fi
  fi
fi
((failed == 0)) || die "$EXIT_FAILED" "config-diff missed a benchmark goal" "profile with \`perf record $config_diff --quiet A B\` on the generated files"
