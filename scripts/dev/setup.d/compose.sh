# shellcheck shell=bash
# scripts/test/compose-static.sh checks the compose runtime without a Docker engine, with
# check-jsonschema and PyYAML from the test venv (requirements/test.txt): nothing else here.
:
