# shellcheck shell=bash
# migrate-ledger's benchmark peers (scripts/bench/migrate.sh), pinned.
if wants bench; then
  need_cargo "bench: migrate-ledger's peers" sqlx sqlx-cli@0.8.6 --locked --no-default-features --features postgres,rustls
  need_npm "bench: migrate-ledger's peers" dbmate dbmate@2.36.0
fi
