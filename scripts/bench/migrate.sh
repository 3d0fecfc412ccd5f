#!/usr/bin/env bash
# Benchmark: migrate-ledger against sqlx-cli (`sqlx migrate run`) and dbmate (`dbmate up`),
# same run, same PostgreSQL 15 server (started here, default durability settings), same
# 1,000 generated small migrations, each tool on a fresh database per timed run (hyperfine
# --prepare drops and recreates it outside the timing). Medians of BENCH_RUNS (≥ 5) rounds;
# each round times the three tools back to back in a rotating order, so load drift on a
# shared machine hits all of them alike.
# Then `migrate-ledger status` with nothing pending.
# Goals: up ≤ 0.8× sqlx-cli, ≤ 1.0× dbmate; status ≤ 50 ms. Figures on stdout and in
# reports/bench/migrate.json. Exits 1 when a goal is missed.
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
cd "$DEVENV_ROOT"

FILES="${BENCH_FILES:-1000}"
RUNS="${BENCH_RUNS:-5}"
((RUNS >= 5)) || die "$EXIT_USAGE" "BENCH_RUNS=$RUNS is below 5" "use BENCH_RUNS=5 or more (medians need them)"

for tool in hyperfine sqlx dbmate initdb postgres pg_isready psql python3; do
  command -v "$tool" >/dev/null || die "$EXIT_USAGE" "$tool is not installed" "run \`scripts/dev/setup.sh bench\`"
done
PROFILE=release
cargo build --quiet --release -p migrate-ledger --bin migrate-ledger \
  || die "$EXIT_FAILED" "migrate-ledger does not build" "run \`cargo build --release -p migrate-ledger\`"
ours="$(bin migrate-ledger)"

work="$(mktemp -d /tmp/devenv-bench-migrate-XXXXXX)"
chmod 755 "$work"
pg_pid=""
cleanup() {
  if [[ -n "$pg_pid" ]]; then
    kill -INT "$pg_pid" 2>/dev/null || true
    wait "$pg_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: under root the server runs as `postgres`.
as_pg=()
if [[ $EUID -eq 0 ]]; then
  as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  chown postgres:postgres "$work"
fi
port="$(free_port)"
password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
printf '%s' "$password" >"$work/pwfile"
[[ $EUID -eq 0 ]] && chown postgres:postgres "$work/pwfile"
"${as_pg[@]}" initdb -D "$work/data" -U bench --auth=scram-sha-256 -E UTF8 --pwfile="$work/pwfile" >"$work/initdb.log" 2>&1 \
  || die "$EXIT_FAILED" "initdb failed: $(tail -3 "$work/initdb.log")" "check the PostgreSQL 15 install (\`make setup\`)"
rm -f "$work/pwfile"
"${as_pg[@]}" postgres -D "$work/data" -p "$port" -k "$work" -c listen_addresses=127.0.0.1 >"$work/postgres.log" 2>&1 &
pg_pid=$!
for _ in $(seq 300); do
  pg_isready -q -h 127.0.0.1 -p "$port" -t 1 && break
  kill -0 "$pg_pid" 2>/dev/null || die "$EXIT_FAILED" "postgres exited at start-up: $(tail -3 "$work/postgres.log")" "run it by hand to see why"
  sleep 0.05
done
pg_isready -q -h 127.0.0.1 -p "$port" -t 1 || die "$EXIT_TIMEOUT" "postgres did not become ready" "see $work/postgres.log"
export PGPASSWORD="$password"
url() { printf 'postgres://bench:%s@127.0.0.1:%s/%s' "$password" "$port" "$1"; }
fresh() { printf 'psql -X -q -h 127.0.0.1 -p %s -U bench -d postgres -c "DROP DATABASE IF EXISTS %s" -c "CREATE DATABASE %s"' "$port" "$1" "$1"; }

# The same small migrations for every tool, shaped like a real history: every tenth file
# creates a table (primary key), some add an index, the rest add columns or insert rows.
# The dbmate markers are comments to the other two.
mkdir -p "$work/ml" "$work/sqlx" "$work/dbmate"
python3 - "$work" "$FILES" <<'PY'
import sys, os
work, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    t = f"bench_{(i - 1) // 10}"
    kind = i % 10
    if kind == 1:
        body = f"CREATE TABLE {t} (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\n"
    elif kind == 5:
        body = f"CREATE INDEX {t}_name_idx ON {t} (name);\n"
    elif kind % 2 == 0:
        body = f"ALTER TABLE {t} ADD COLUMN c_{i} integer NOT NULL DEFAULT {i};\nCOMMENT ON COLUMN {t}.c_{i} IS 'added by migration {i}';\n"
    else:
        body = f"INSERT INTO {t} (id, name) VALUES ({i}, 'row {i}'), ({i + n}, 'row {i + n}');\n"
    sql = f"-- migrate:up\n{body}\n-- migrate:down\n"
    for d in ("ml", "sqlx", "dbmate"):
        with open(os.path.join(work, d, f"{i:04d}_bench_{i}.sql"), "w") as f:
            f.write(sql)
PY

ml_cmd=(-n migrate-ledger --prepare "$(fresh b_ml)" "DEVENV_ROOT=$work $ours --database-url $(url b_ml) --dir $work/ml --quiet up")
sqlx_cmd=(-n sqlx-cli --prepare "$(fresh b_sqlx)" "sqlx migrate run --source $work/sqlx --database-url $(url b_sqlx)")
dbmate_cmd=(-n dbmate --prepare "$(fresh b_dbmate)" "dbmate --url '$(url b_dbmate)?sslmode=disable' --migrations-dir $work/dbmate --no-dump-schema up")
info "── up: $FILES migrations, $RUNS rounds, fresh database per run"
for round in $(seq "$RUNS"); do
  case $((round % 3)) in
    1) order=("${ml_cmd[@]}" "${sqlx_cmd[@]}" "${dbmate_cmd[@]}") ;;
    2) order=("${sqlx_cmd[@]}" "${dbmate_cmd[@]}" "${ml_cmd[@]}") ;;
    *) order=("${dbmate_cmd[@]}" "${ml_cmd[@]}" "${sqlx_cmd[@]}") ;;
  esac
  # --style basic: on a failure the output names the tool (`Benchmark N: <tool>`); `none` does not.
  hyperfine --runs 1 --export-json "$work/up-$round.json" --style basic "${order[@]}" >"$work/up.out" 2>&1 \
    || die "$EXIT_FAILED" "a migration run failed: $(tail -20 "$work/up.out")" "rerun the tool named above by hand against a fresh database to see its error"
  info "   round $round/$RUNS done"
done

applied="$(psql -X -q -A -t -h 127.0.0.1 -p "$port" -U bench -d b_ml -c "SELECT count(*) FROM schema_migrations")"
[[ "$applied" == "$FILES" ]] || die "$EXIT_FAILED" "migrate-ledger recorded $applied of $FILES files" "rerun with -v to see why"

info "── status with nothing pending"
hyperfine -N --warmup 3 --runs 30 --export-json "$work/status.json" --style basic \
  -n status "env DEVENV_ROOT=$work $ours --database-url $(url b_ml) --dir $work/ml --quiet status" >"$work/status.out" \
  || die "$EXIT_FAILED" "status failed: $(tail -20 "$work/status.out")" "rerun by hand"

mkdir -p reports/bench
rc=0
python3 - "$work" "$work/status.json" "$FILES" "$RUNS" reports/bench/migrate.json <<'PY' || rc=$?
import json, statistics, sys
times = {}
for r in range(1, int(sys.argv[4]) + 1):
    for res in json.load(open(f"{sys.argv[1]}/up-{r}.json"))["results"]:
        times.setdefault(res["command"], []).extend(res["times"])
status = json.load(open(sys.argv[2]))["results"][0]
med = {k: statistics.median(v) for k, v in times.items()}
ours, sqlx, dbmate = med["migrate-ledger"], med["sqlx-cli"], med["dbmate"]
st = status["median"] * 1000
goals = {
    "vs_sqlx_cli": {"ratio": ours / sqlx, "goal": 0.8},
    "vs_dbmate": {"ratio": ours / dbmate, "goal": 1.0},
    "status_ms": {"value": st, "goal": 50},
}
ok = goals["vs_sqlx_cli"]["ratio"] <= 0.8 and goals["vs_dbmate"]["ratio"] <= 1.0 and st <= 50
report = {"files": int(sys.argv[3]), "runs": int(sys.argv[4]),
          "median_s": med, "times_s": times, "status_median_ms": st, "goals": goals, "met": ok}
json.dump(report, open(sys.argv[5], "w"), indent=2)
print(f"up, {sys.argv[3]} migrations (median of {sys.argv[4]}):")
for k in ("migrate-ledger", "sqlx-cli", "dbmate"):
    print(f"  {k:15} {med[k]*1000:9.1f} ms")
print(f"  ratio vs sqlx-cli {ours/sqlx:.2f}x (goal <= 0.8x), vs dbmate {ours/dbmate:.2f}x (goal <= 1.0x)")
print(f"status, nothing pending: {st:.1f} ms median (goal <= 50 ms)")
sys.exit(0 if ok else 1)
PY
((rc == 0)) || die "$EXIT_FAILED" "migrate-ledger missed a benchmark goal (reports/bench/migrate.json)" "profile the slow path (\`perf record $ours up\`) before changing the goals"
ok "migrate benchmark: goals met (reports/bench/migrate.json)"
