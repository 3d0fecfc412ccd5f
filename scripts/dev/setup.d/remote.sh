# shellcheck shell=bash
# Drop-in for scripts/dev/setup.sh: what the remote-workspace tests need
# (scripts/test/remote-*.sh): network namespaces and a firewall for the link test, a real
# Prometheus Pushgateway, systemd-analyze for the units, jq for JSON checks, and python-hcl2
# to parse the Terraform module (a provider cannot be downloaded here, so no plan).
need_apt ip iproute2
need_apt iptables iptables
need_apt setpriv util-linux
need_apt prometheus-pushgateway prometheus-pushgateway
need_apt systemd-analyze systemd
need_apt jq jq
need_pip hcl2 python-hcl2
