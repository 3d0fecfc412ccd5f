# shellcheck shell=bash
# config-diff's benchmark (scripts/bench/diff.sh): hyperfine times runs, jq reads the results,
# a PyYAML structural diff (requirements/bench.txt) is the floor.
if wants bench; then
  need_apt "bench: timing and reading results" hyperfine hyperfine
  need_apt "bench: timing and reading results" jq jq
  need_venv "bench: Python peers, pinned" "$SETUP_DIR/requirements/bench.txt"
fi
