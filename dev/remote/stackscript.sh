#!/usr/bin/env bash
# devenv-stackscript-version: 1
#
# Linode StackScript for a devenv remote workspace (Debian 12). Terraform uploads this file as a
# StackScript whose label carries the version above (dev/remote/terraform/main.tf reads it), so
# bump the version with every change: instances record which one built them.
#
# It installs the dependency suite (PostgreSQL 15, Redis 7, NATS, MinIO) and devenv itself under
# /opt/devenv, installs the systemd units of dev/systemd/, writes the workspace bundle with
# secrets-sync and starts devenv.target. Output goes to /var/log/stackscript.log.
#
# <UDF name="workspace_id" label="devenv workspace id" />
# <UDF name="private_ip" label="Address on the workspace VLAN" />
# <UDF name="repo_url" label="devenv git repository" default="https://github.com/example/devenv.git" />
# <UDF name="repo_ref" label="devenv branch, tag or commit" default="main" />
# <UDF name="vault_addr" label="Vault address for secrets-sync (empty: local generator)" default="" />
set -euo pipefail
exec > >(tee -a /var/log/stackscript.log) 2>&1

STACKSCRIPT_VERSION=1
: "${WORKSPACE_ID:?StackScript UDF workspace_id is required}"
: "${PRIVATE_IP:?StackScript UDF private_ip is required}"
REPO_URL="${REPO_URL:-https://github.com/example/devenv.git}"
REPO_REF="${REPO_REF:-main}"
VAULT_ADDR="${VAULT_ADDR:-}"
MINIO_RELEASE=RELEASE.2024-10-13T13-34-11Z
ROOT=/opt/devenv

echo "devenv stackscript v$STACKSCRIPT_VERSION for workspace $WORKSPACE_ID ($PRIVATE_IP)"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ca-certificates curl git build-essential pkg-config sudo \
  postgresql-15 postgresql-client-15 redis-server redis-tools nats-server
# The Debian packages start their own instances; devenv runs its own under systemd instead.
systemctl disable --now postgresql redis-server nats-server 2>/dev/null || true

if ! command -v minio >/dev/null; then
  curl -fsSL -o /usr/local/bin/minio "https://dl.min.io/server/minio/release/linux-amd64/archive/minio.$MINIO_RELEASE"
  chmod 0755 /usr/local/bin/minio
fi

# The service account: runs every unit, owns the data, may run suite.sh through sudo (remote.sh
# reaches status/logs/reset that way) and nothing else.
id devenv >/dev/null 2>&1 || useradd --system --create-home --home-dir /home/devenv --shell /bin/bash devenv
install -d -o devenv -g devenv -m 0700 /home/devenv/.ssh
install -o devenv -g devenv -m 0600 /root/.ssh/authorized_keys /home/devenv/.ssh/authorized_keys
printf 'devenv ALL=(root) NOPASSWD: %s/dev/remote/suite.sh, /usr/bin/systemctl start secrets-sync.service devenv.target\n' "$ROOT" \
  >/etc/sudoers.d/devenv
chmod 0440 /etc/sudoers.d/devenv
sed -i 's/^#\?PasswordAuthentication .*/PasswordAuthentication no/' /etc/ssh/sshd_config
systemctl reload ssh || true

# devenv itself: the checkout (scripts, units, suite.sh) and the release binaries.
if [[ ! -d "$ROOT/.git" ]]; then git clone --quiet "$REPO_URL" "$ROOT"; fi
git -C "$ROOT" fetch --quiet origin "$REPO_REF"
git -C "$ROOT" checkout --quiet --detach FETCH_HEAD
if ! command -v cargo >/dev/null; then
  curl -fsSL https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
# shellcheck disable=SC1091
. "$HOME/.cargo/env"
cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" -p secrets-sync -p dev-status -p mock-inference
install -m 0755 "$ROOT"/target/release/{secrets-sync,dev-status,mock-inference} /usr/local/bin/
chown -R devenv:devenv "$ROOT"

# Host settings the units read (not secret: the secrets live in $ROOT/.env.linode, 0600).
install -d -m 0755 /etc/devenv
cat >/etc/devenv/workspace.env <<EOF
DEVENV_WORKSPACE=$WORKSPACE_ID
DEVENV_MODE=remote
DEVENV_LISTEN=$PRIVATE_IP
DEVENV_STACKSCRIPT_VERSION=$STACKSCRIPT_VERSION
VAULT_ADDR=$VAULT_ADDR
EOF
touch /etc/devenv/observability.env

install -m 0644 "$ROOT"/dev/systemd/*.service "$ROOT"/dev/systemd/*.timer "$ROOT"/dev/systemd/*.target /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now secrets-sync.timer dev-status.timer
systemctl start secrets-sync.service
systemctl enable --now devenv.target

install -d -o devenv -g devenv /var/lib/devenv
touch /var/lib/devenv/.stackscript-done
echo "devenv stackscript v$STACKSCRIPT_VERSION: done"
