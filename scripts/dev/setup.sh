#!/usr/bin/env bash
# Installs what one purpose needs and the machine lacks, saying what and why first (one line per
# package group). Safe to run twice: it only acts on what is missing.
#
#   setup.sh [--quick] [stack|test|bench|fuzz ...]     (default: stack)
#
#   stack  what `make up` runs: the native servers (unless the compose runtime is in use)
#   test   + the test tools, and the Python tools in the project venv (.devenv/venv)
#   bench  + the benchmark peers        fuzz   + cargo-fuzz
#
# Nothing is pip-installed outside .devenv/venv. apt runs through sudo for a normal user; nothing
# else needs root. Drop-ins in setup.d/ declare each component's needs with the need_* helpers.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

QUICK=0 PURPOSES=()
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    stack | test | bench | fuzz) PURPOSES+=("$arg") ;;
    --bench) PURPOSES+=(bench) ;;
    *) die "$EXIT_USAGE" "unknown setup purpose or option: $arg" "use: setup.sh [--quick] [stack|test|bench|fuzz ...]" ;;
  esac
done
((${#PURPOSES[@]})) || PURPOSES=(stack)
# wants PURPOSE — true when this run installs for PURPOSE (test and bench run the stack too).
wants() {
  local p
  for p in "${PURPOSES[@]}"; do
    [[ "$p" == "$1" || ("$1" == stack && ("$p" == test || "$p" == bench)) ]] && return 0
  done
  return 1
}

# --quick (what `make up` / `make test` use): nothing to do when the setup files, the purposes,
# the runtime and the profiles are what they were at the last successful run on this machine.
SETUP_DIR="$DEVENV_ROOT/scripts/dev"
purpose_key="$(printf '%s\n' "${PURPOSES[@]}" | sort -u | paste -sd- -)"
STAMP="$STATE_DIR/setup/$purpose_key.stamp"
fingerprint="$(cat "$0" "$SETUP_DIR"/setup.d/*.sh "$SETUP_DIR"/requirements/*.txt 2>/dev/null | sha256sum | cut -c1-64) runtime=${DEVENV_RUNTIME:-auto} profiles=$(active_profiles)"
if ((QUICK)) && [[ -f "$STAMP" && "$(<"$STAMP")" == "$fingerprint" ]]; then
  exit 0
fi

command -v cargo >/dev/null || die "$EXIT_USAGE" "cargo is not installed (not on PATH, not in ~/.cargo/bin)" "install Rust with rustup (https://rustup.rs), open a new shell, and rerun"
# Every lookup goes through `devenv which` (PATH, /usr/sbin, PostgreSQL's bin, ~/.cargo/bin),
# the same one dev-status' preflight uses: build it first when it is not built yet.
if ! DEVENV_BIN="$(bin_optional devenv)"; then
  info "setup: building devenv (the program lookup every step uses)"
  build_args=(build --quiet -p devenv --bin devenv)
  [[ "$PROFILE" == release ]] && build_args+=(--release)
  cargo "${build_args[@]}" || die "$EXIT_FAILED" "cargo build -p devenv failed" "read the compiler output above; \`cargo build -p devenv\` reproduces it"
  DEVENV_BIN="$(bin devenv)"
fi
have() { "$DEVENV_BIN" which "$1" >/dev/null 2>&1; }

# Needs, grouped by why: NEED_GROUPS keeps the order, the maps the packages of each group.
declare -A APT_OF CARGO_OF NPM_OF VENV_OF
NEED_GROUPS=()
add_group() {
  local g
  for g in "${NEED_GROUPS[@]}"; do [[ "$g" == "$1" ]] && return 0; done
  NEED_GROUPS+=("$1")
}
# need_apt WHY CMD PKG — Debian package PKG, when CMD is not found.
need_apt() { have "$2" && return 0; add_group "$1"; [[ " ${APT_OF[$1]:-} " == *" $3 "* ]] || APT_OF[$1]+=" $3"; }
# need_cargo WHY CMD CRATE@VERSION [cargo install flags] — a pinned `cargo install`, when CMD is not found.
need_cargo() { local why="$1" cmd="$2"; shift 2; have "$cmd" && return 0; add_group "$why"; CARGO_OF[$why]+="${CARGO_OF[$why]:+|}$*"; }
# need_npm WHY CMD PKG@VERSION — into .devenv/npm (no global install, no root).
need_npm() { have "$2" && return 0; add_group "$1"; NPM_OF[$1]+=" $3"; }
# need_venv WHY REQUIREMENTS — the pinned requirements file, into .devenv/venv.
VENV="$STATE_DIR/venv"
need_venv() {
  local why="$1" req="$2" name
  name="$(basename "$req" .txt)"
  [[ -x "$VENV/bin/python" && -f "$VENV/.installed-$name" && "$(<"$VENV/.installed-$name")" == "$(sha256sum <"$req" | cut -c1-64)" ]] && return 0
  add_group "$why"
  VENV_OF[$why]+=" $req"
  # The venv needs python3 and its venv module (ensurepip): Debian ships it apart.
  need_apt "$why" python3 python3
  if have python3 && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    [[ " ${APT_OF[$why]:-} " == *" python3-venv "* ]] || APT_OF[$why]+=" python3-venv"
  fi
}

# The runtime `make up` will use: drop-ins read it (the compose runtime needs no native servers).
RUNTIME=native
wants stack && RUNTIME="$(runtime)"
export RUNTIME
for dropin in "$SETUP_DIR"/setup.d/*.sh; do
  [[ -e "$dropin" ]] || continue
  # shellcheck disable=SC1090
  source "$dropin"
done

if ((${#NEED_GROUPS[@]} == 0)); then
  mkdir -p "$(dirname "$STAMP")" && printf '%s' "$fingerprint" > "$STAMP"
  ok "setup (${PURPOSES[*]}): everything needed is installed"
  exit 0
fi

info "setup (${PURPOSES[*]}) will install:"
for g in "${NEED_GROUPS[@]}"; do
  line=""
  [[ -n "${APT_OF[$g]:-}" ]] && line+=" apt:${APT_OF[$g]}"
  [[ -n "${CARGO_OF[$g]:-}" ]] && line+=" cargo: $(printf '%s' "${CARGO_OF[$g]}" | sed 's/|/, /g; s/ --[^,]*//g')"
  [[ -n "${NPM_OF[$g]:-}" ]] && line+=" npm:${NPM_OF[$g]}"
  [[ -n "${VENV_OF[$g]:-}" ]] && line+=" venv:$(for r in ${VENV_OF[$g]}; do printf ' %s' "${r#"$DEVENV_ROOT/"}"; done)"
  info "  $g —$line"
done

APT=()
for g in "${NEED_GROUPS[@]}"; do
  # shellcheck disable=SC2206 # space-separated package names
  [[ -n "${APT_OF[$g]:-}" ]] && APT+=(${APT_OF[$g]})
done
if ((${#APT[@]})); then
  mapfile -t APT < <(printf '%s\n' "${APT[@]}" | sort -u)
  command -v apt-get >/dev/null || die "$EXIT_USAGE" "this machine has no apt-get to install ${APT[*]}" "install them with your package manager (names are Debian's), then rerun \`make setup\`"
  if ((EUID == 0)); then
    SUDO=()
  elif command -v sudo >/dev/null; then
    SUDO=(sudo)
    # Ask for the password once, up front, so a refusal is not mistaken for a network error.
    sudo -v || die "$EXIT_USAGE" "sudo refused: installing ${APT[*]} needs root" "ask an administrator to add you to the sudo group, or as root: apt-get install ${APT[*]}"
  else
    die "$EXIT_USAGE" "installing ${APT[*]} needs root, and sudo is not installed" "as root: apt-get install sudo && usermod -aG sudo $(id -un) (then log in again), or as root: apt-get install ${APT[*]}"
  fi
  "${SUDO[@]}" apt-get update -qq || die "$EXIT_EXTERNAL" "apt-get update failed" "check the network and /etc/apt/sources.list, then rerun \`make setup\`"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${APT[@]}" >/dev/null \
    || die "$EXIT_EXTERNAL" "apt-get install ${APT[*]} failed" "run \`sudo apt-get install ${APT[*]}\` to see why, then rerun \`make setup\`"
fi
for g in "${NEED_GROUPS[@]}"; do
  [[ -n "${CARGO_OF[$g]:-}" ]] || continue
  IFS='|' read -ra specs <<<"${CARGO_OF[$g]}"
  for spec in "${specs[@]}"; do
    # shellcheck disable=SC2086 # crate@version and its flags
    cargo install $spec || die "$EXIT_EXTERNAL" "cargo install $spec failed" "check crates.io access and rerun \`make setup\`"
  done
done
for g in "${NEED_GROUPS[@]}"; do
  [[ -n "${NPM_OF[$g]:-}" ]] || continue
  # shellcheck disable=SC2086
  npm install --silent --no-fund --no-audit --prefix "$STATE_DIR/npm" ${NPM_OF[$g]} \
    || die "$EXIT_EXTERNAL" "npm install${NPM_OF[$g]} failed" "check npm registry access and rerun \`make setup\`"
done
for g in "${NEED_GROUPS[@]}"; do
  for req in ${VENV_OF[$g]:-}; do
    if [[ ! -x "$VENV/bin/python" ]]; then
      python3 -m venv "$VENV" >/dev/null 2>&1 || { rm -rf "$VENV"; die "$EXIT_USAGE" "python3 cannot create a virtualenv (its venv module or ensurepip is missing)" "install python3-venv: sudo apt-get install python3-venv, then rerun \`make setup\`"; }
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" \
      || die "$EXIT_EXTERNAL" "pip install -r ${req#"$DEVENV_ROOT/"} into .devenv/venv failed" "check PyPI access and rerun \`make setup\`"
    digest="$(sha256sum <"$req" | cut -c1-64)"
    printf '%s\n' "$digest" > "$VENV/.installed-$(basename "$req" .txt)"
  done
done
mkdir -p "$(dirname "$STAMP")"
printf '%s' "$fingerprint" > "$STAMP"
ok "setup (${PURPOSES[*]}): everything needed is installed"
