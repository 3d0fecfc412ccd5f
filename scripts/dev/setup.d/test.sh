# shellcheck shell=bash
# What `make test` needs beyond the stack: the test runner, the linters, and the Python tools
# (the official openai/anthropic SDKs, JSON-Schema validators incl. check-jsonschema for the
# compose files, PyYAML, python-dotenv, python-hcl2) in .devenv/venv.
if wants test; then
  need_cargo "test: the test runner" cargo-nextest cargo-nextest@0.9.143 --locked
  need_cargo "test: unused-dependency check (make lint)" cargo-machete cargo-machete@0.9.2 --locked
  need_apt "test: shell linting" shellcheck shellcheck
  need_venv "test: Python tools, pinned" "$SETUP_DIR/requirements/test.txt"
  # scripts/test/newcomer.sh runs `make up` as a throwaway normal user with sudo.
  need_apt "test: the newcomer test's user" sudo sudo
  need_apt "test: the newcomer test's user" useradd passwd
fi
