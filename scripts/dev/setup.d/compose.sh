# shellcheck shell=bash
# Drop-in for scripts/dev/setup.sh: what scripts/test/compose-static.sh needs to check the
# compose runtime without a Docker engine (a real JSON-Schema validator and a YAML parser).
need_pip check_jsonschema check-jsonschema==0.39.0
need_pip yaml pyyaml
