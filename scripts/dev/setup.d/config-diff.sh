# shellcheck shell=bash
# config-diff: its tests need nothing beyond cargo. Its benchmark (scripts/bench/diff.sh,
# only with `setup.sh --bench`) times runs with hyperfine, reads the results with jq, and
# compares against a PyYAML structural diff.
if [[ "${BENCH:-0}" == 1 ]]; then
  need_apt hyperfine hyperfine
  need_apt jq jq
  need_pip yaml pyyaml
fi
