#!/usr/bin/env bash
# Snapshot benchmark (issue #18): `devenv snapshot create` / `restore` of a PostgreSQL database of
# SIZE_MB (default 1024) beside the peer a developer would otherwise reach for, pg_dump -Fc /
# pg_restore --clean of the same data, in the same run, with hyperfine (RUNS each, default 2).
# The data is generated in a scratch workspace's own stack (generate_series), so a developer's
# stack is never touched. Snapshot times include stopping and restarting PostgreSQL and the
# sha256 of every byte; restore includes the full verification against the manifest.
# BENCH_DEVENV names the devenv binary to time (e.g. a release build); default: the one bin_dir
# gives (make bench sets PROFILE=release).
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"

command -v hyperfine >/dev/null || die "$EXIT_USAGE" "hyperfine is not installed" "run \`scripts/dev/setup.sh bench\`"
SIZE_MB="${SIZE_MB:-1024}" RUNS="${RUNS:-2}"
export NO_COLOR=1 DEVENV_RUNTIME=native
build_bins devenv dev-status secrets-sync migrate-ledger mock-inference
DEVENV_BIN_DIR="$(bin_dir)"
export DEVENV_BIN_DIR
devenv_bin="${BENCH_DEVENV:-$(bin devenv)}"
pg_dump="$(tool pg_dump)" || exit
pg_restore="$(tool pg_restore)" || exit
psql="$(tool psql)" || exit

work="$(mktemp -d "${TMPDIR:-/tmp}/devenv-bench-snapshot-XXXXXX")"
cleanup() {
  (cd "$work" && make -s stop >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT
scratch_workspace "$work"
unset DEVENV_ROOT DEVENV_CORRELATION_ID
cd "$work"
make -s up >/dev/null 2>&1 || die "$EXIT_FAILED" "make up failed in the scratch workspace $work" "run it there by hand"
bundle_get() { sed -n "s/^$1=//p" .env.local | tr -d "'\""; }
PGPASSWORD="$(bundle_get POSTGRES_PASSWORD)"
PGHOST=127.0.0.1 PGPORT="$(bundle_get POSTGRES_PORT)" PGUSER="$(bundle_get POSTGRES_USER)" PGDATABASE="$(bundle_get POSTGRES_DB)"
export PGPASSWORD PGHOST PGPORT PGUSER PGDATABASE

# ~275 bytes a row on disk (tuple header + id + a 232-byte text; 940 MB for 300 was measured).
rows=$((SIZE_MB * 1024 * 1024 / 275))
info "generating ~${SIZE_MB} MB ($rows rows) with generate_series"
"$psql" -X -q -c "CREATE TABLE bench AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS payload FROM generate_series(1, $rows) g" \
  -c "CHECKPOINT"
size="$("$psql" -X -A -t -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
info "database size: $size"

ctl="$work/scripts/dev/service.sh"
hyperfine --runs "$RUNS" --export-json "$work/hyperfine.json" --style basic \
  -n "devenv snapshot create" "$devenv_bin snapshot create bench --services postgres --force --ctl $ctl" \
  -n "pg_dump -Fc" "$pg_dump -Fc -f $work/bench.dump" \
  -n "devenv snapshot restore" "$devenv_bin snapshot restore bench --ctl $ctl" \
  -n "pg_restore --clean" "$pg_restore --clean --if-exists -d $PGDATABASE $work/bench.dump"
check="$("$psql" -X -A -t -c "SELECT count(*) FROM bench")"
[[ "$check" == "$rows" ]] || die "$EXIT_FAILED" "after the runs bench holds $check rows, not $rows" "a restore lost data: look at $work"
snap_size="$(du -sh "$work/.devenv/snapshots/bench" | cut -f1)" dump_size="$(du -sh "$work/bench.dump" | cut -f1)"
info ""
info "database $size; snapshot on disk $snap_size; pg_dump -Fc file $dump_size"
jq -r '.results[] | "\(.command)\t\(.mean | . * 100 | round / 100) s mean (min \(.min | . * 100 | round / 100), max \(.max | . * 100 | round / 100))"' \
  "$work/hyperfine.json" | column -t -s $'\t'
