# shellcheck shell=bash
# The remote-workspace tests (scripts/test/remote-*.sh): network namespaces and a firewall for
# the link test, a real Prometheus Pushgateway, systemd-analyze for the units, jq for JSON;
# python-hcl2 (test venv) parses the Terraform module (no provider can be downloaded here).
if wants test; then
  why="test: remote-workspace tests (netns, firewall, pushgateway, units)"
  need_apt "$why" ip iproute2
  need_apt "$why" iptables iptables
  need_apt "$why" setpriv util-linux
  need_apt "$why" prometheus-pushgateway prometheus-pushgateway
  need_apt "$why" systemd-analyze systemd
  need_apt "$why" jq jq
  need_apt "$why" redis-cli redis-tools
fi
