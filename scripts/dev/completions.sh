#!/usr/bin/env bash
# make completions: installs `devenv completions <shell>` for the current user — bash into
# ~/.local/share/bash-completion/completions/ (bash-completion loads it on demand), zsh into
# ~/.local/share/zsh/site-functions/ (add it to fpath), fish into ~/.config/fish/completions/.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
devenv="$(bin devenv)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
config="${XDG_CONFIG_HOME:-$HOME/.config}"
install_one() {
  local shell="$1" path="$2"
  mkdir -p "$(dirname "$path")"
  "$devenv" completions "$shell" >"$path.tmp" && mv "$path.tmp" "$path"
  ok "$shell: $path"
}
install_one bash "$data/bash-completion/completions/devenv"
install_one zsh "$data/zsh/site-functions/_devenv"
install_one fish "$config/fish/completions/devenv.fish"
info "zsh: add $data/zsh/site-functions to fpath (before compinit) if it is not there yet"
