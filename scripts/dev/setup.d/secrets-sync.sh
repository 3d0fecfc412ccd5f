# shellcheck shell=bash
# secrets-sync: python-dotenv (test venv) proves the bundle reads back exactly in Python;
# hyperfine times scripts/bench/secrets.sh.
if wants bench; then
  need_apt "bench: timing and reading results" hyperfine hyperfine
fi
