# shellcheck shell=bash
# The stack `make up` runs natively (scripts/dev/native.sh). The compose runtime needs only
# Docker, which setup does not install. Sourced by setup.sh (need_*, wants, $RUNTIME).
if wants stack; then
  need_apt "stack: git (secrets-sync checks the bundle is git-ignored)" git git
  need_apt "stack: curl (make up creates the S3 bucket)" curl curl
  # The tests and benchmarks start these servers themselves, whatever runtime `make up` uses.
  if [[ "$RUNTIME" == native ]] || wants test || wants bench; then
    why="stack: the native runtime's servers"
    need_apt "$why" initdb postgresql-15
    need_apt "$why" psql postgresql-client
    need_apt "$why" redis-server redis-server
    need_apt "$why" nats-server nats-server
    # PostgreSQL refuses to run as root: under root, native.sh runs it as `postgres` (setpriv).
    ((EUID == 0)) && need_apt "$why" setpriv util-linux
    have minio || need_cargo "stack: an S3 server for the native runtime (no MinIO here)" s3s-fs s3s-fs@0.14.1 --locked --features binary
  fi
fi
