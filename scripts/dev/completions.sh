#!/usr/bin/env bash
# make completions: installs `<binary> completions <shell>` of every binary for the current user — bash into
# ~/.local/share/bash-completion/completions/ (bash-completion loads it on demand), zsh into
# ~/.local/share/zsh/site-functions/ (add it to fpath), fish into ~/.config/fish/completions/.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
config="${XDG_CONFIG_HOME:-$HOME/.config}"
# install_one BINARY SHELL PATH — BINARY's script for SHELL, written atomically.
install_one() {
  local binary="$1" shell="$2" path="$3"
  mkdir -p "$(dirname "$path")"
  "$(bin "$binary")" completions "$shell" >"$path.tmp" && mv "$path.tmp" "$path"
}
for binary in devenv dev-status secrets-sync migrate-ledger config-diff mock-inference; do
  install_one "$binary" bash "$data/bash-completion/completions/$binary"
  install_one "$binary" zsh "$data/zsh/site-functions/_$binary"
  install_one "$binary" fish "$config/fish/completions/$binary.fish"
  ok "$binary: bash, zsh and fish completions installed"
done
info "bash: $data/bash-completion/completions/  zsh: $data/zsh/site-functions/  fish: $config/fish/completions/"
info "zsh: add $data/zsh/site-functions to fpath (before compinit) if it is not there yet"
