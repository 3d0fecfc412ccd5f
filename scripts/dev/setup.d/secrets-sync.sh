# shellcheck shell=bash
# secrets-sync: python-dotenv (test venv) proves the bundle reads back exactly in Python;
# scripts/bench/secrets.sh times it (hyperfine) against a real OpenBao from the bench venv, with
# curl (one keep-alive connection, then --parallel) as the floor.
if wants bench; then
  need_apt "bench: timing and reading results" hyperfine hyperfine
  need_apt "bench: the floor of the secrets benchmark" curl curl
  need_venv "bench: Python peers, pinned" "$SETUP_DIR/requirements/bench.txt"
fi
