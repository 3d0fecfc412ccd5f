#!/usr/bin/env bash
# make verify-images: every image dev/compose.local.yaml uses (all profiles) must be pinned in
# dev/IMAGE_DIGESTS as repo:tag@sha256:… and not pinned differently in the compose file.
# Needs no secrets bundle: image references do not depend on credentials.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$DEVENV_ROOT"

config_diff="$(bin config-diff)"
[[ -f dev/IMAGE_DIGESTS ]] || die "$EXIT_USAGE" "dev/IMAGE_DIGESTS is missing" "restore it from git; it lists every image as repo:tag@sha256:<digest>"
files=(-f dev/compose.local.yaml)
[[ -f dev/compose.override.yaml ]] && files+=(-f dev/compose.override.yaml)

checked_run verify_images_finished \
  "verify-images: every compose image is pinned in dev/IMAGE_DIGESTS" \
  "verify-images: images missing from dev/IMAGE_DIGESTS or pinned differently (listed above)" \
  "add or correct the line in dev/IMAGE_DIGESTS (repo:tag@sha256:<digest from \`docker buildx imagetools inspect\`)" \
  "verify-images: could not check" \
  "$config_diff" images "${files[@]}" --digests dev/IMAGE_DIGESTS ${ARGS:+"$ARGS"}
