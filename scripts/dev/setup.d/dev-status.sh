# shellcheck shell=bash
# dev-status' benchmark compares against pg_isready / redis-cli / curl via hyperfine.
if wants bench; then
  need_apt "bench: timing and reading results" hyperfine hyperfine
  need_apt "bench: dev-status' peers" pg_isready postgresql-client
  need_apt "bench: dev-status' peers" redis-cli redis-tools
fi
