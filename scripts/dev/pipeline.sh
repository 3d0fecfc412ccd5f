#!/usr/bin/env bash
# make pipeline: the local CI/CD run of configs/pipeline.yaml (PIPELINE_CONFIG=path for another
# file) through `devenv pipeline run`, which records it under .devenv/pipelines/ and moves the
# workflow stage (testing, then active_development or debugging). Exit codes are devenv's: 0
# passed, 1 a stage failed, 2 a bad pipeline file.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"
DEVENV_COMMAND="${DEVENV_COMMAND:-make pipeline}" exec "$(bin devenv)" pipeline run "$@"
