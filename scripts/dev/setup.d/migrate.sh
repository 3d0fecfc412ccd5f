# shellcheck shell=bash
# migrate-ledger: benchmark peers for scripts/bench/migrate.sh (only with `setup.sh --bench`).
# Sourced by scripts/dev/setup.sh, which defines need_cargo / need_npm and $BENCH.
if [[ "${BENCH:-0}" == 1 ]]; then
  need_cargo sqlx sqlx-cli --locked --no-default-features --features postgres,rustls
  need_npm dbmate dbmate
fi
