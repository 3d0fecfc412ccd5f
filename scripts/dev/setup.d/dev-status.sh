# shellcheck shell=bash
# dev-status: its tests validate the JSON output against the committed JSON Schema with
# Python's jsonschema; its benchmark compares against pg_isready/redis-cli/curl via hyperfine.
need_pip jsonschema jsonschema
if [[ "${BENCH:-0}" == 1 ]]; then
  need_apt hyperfine hyperfine
  need_apt pg_isready postgresql-client
fi
