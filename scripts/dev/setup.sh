#!/usr/bin/env bash
# Installs whatever the project needs and the machine lacks. Safe to run twice: it only
# acts on what is missing. `--bench` adds the benchmark peers. Drop-ins in setup.d/ add needs.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# --quick (what `make up` / `make test` use): skip every check when the setup files have not
# changed since the last successful run on this machine. `make setup` always checks.
BENCH=0 QUICK=0
for arg in "$@"; do
  case "$arg" in
    --bench) BENCH=1 ;;
    --quick) QUICK=1 ;;
    *) die "$EXIT_USAGE" "unknown option $arg" "use --bench and/or --quick" ;;
  esac
done
export BENCH
STAMP="$STATE_DIR/setup.stamp"
fingerprint="$(cat "$0" "$(dirname "$0")"/setup.d/*.sh 2>/dev/null | sha256sum | cut -c1-64)-bench$BENCH"
if ((QUICK)) && [[ -f "$STAMP" && "$(cat "$STAMP")" == "$fingerprint" ]]; then
  exit 0
fi

APT=() CARGO=() PIP=() NPM=()
need_apt() { local cmd="$1"; shift; command -v "$cmd" >/dev/null 2>&1 || APT+=("$@"); }
need_cargo() { local cmd="$1"; shift; command -v "$cmd" >/dev/null 2>&1 || CARGO+=("$*"); }
# find_spec locates a module without importing it (importing e.g. openai takes a second).
need_pip() {
  local module="$1" pkg="$2"
  python3 -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$module') is None)" 2>/dev/null || PIP+=("$pkg")
}
need_npm() { local cmd="$1" pkg="$2"; command -v "$cmd" >/dev/null 2>&1 || NPM+=("$pkg"); }

command -v cargo >/dev/null || die "$EXIT_USAGE" "cargo is not installed" "install Rust with rustup (https://rustup.rs) and rerun"
need_apt git git
need_apt initdb postgresql-15
need_apt redis-server redis-server
need_apt redis-cli redis-tools
need_apt nats-server nats-server
need_apt shellcheck shellcheck
need_apt curl curl
need_apt ss iproute2
if ! command -v minio >/dev/null 2>&1; then
  need_cargo s3s-fs s3s-fs@0.14.1 --locked --features binary
fi
command -v cargo-nextest >/dev/null 2>&1 || CARGO+=("cargo-nextest --locked")

for dropin in "$(dirname "$0")"/setup.d/*.sh; do
  [[ -e "$dropin" ]] || continue
  # shellcheck disable=SC1090
  source "$dropin"
done

if ((${#APT[@]})); then
  [[ $EUID -eq 0 ]] && SUDO=() || SUDO=(sudo)
  info "installing Debian packages: ${APT[*]}"
  "${SUDO[@]}" apt-get update -qq || die "$EXIT_EXTERNAL" "apt-get update failed" "check the network / apt sources and rerun \`make setup\`"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${APT[@]}" >/dev/null \
    || die "$EXIT_EXTERNAL" "apt-get install ${APT[*]} failed" "install them by hand and rerun \`make setup\`"
fi
for spec in "${CARGO[@]}"; do
  info "cargo install $spec"
  # shellcheck disable=SC2086
  cargo install --quiet $spec || die "$EXIT_EXTERNAL" "cargo install $spec failed" "check crates.io access and rerun \`make setup\`"
done
if ((${#PIP[@]})); then
  info "pip install ${PIP[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${PIP[@]}" \
    || die "$EXIT_EXTERNAL" "pip install ${PIP[*]} failed" "check PyPI access and rerun \`make setup\`"
fi
if ((${#NPM[@]})); then
  info "npm install -g ${NPM[*]}"
  npm install -g --silent "${NPM[@]}" || die "$EXIT_EXTERNAL" "npm install ${NPM[*]} failed" "check npm registry access and rerun \`make setup\`"
fi
mkdir -p "$STATE_DIR"
printf '%s' "$fingerprint" > "$STAMP"
ok "setup: everything needed is installed"
