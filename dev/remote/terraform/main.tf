# One remote workspace: a tagged Linode instance on a private VLAN, behind a firewall that
# admits only SSH and the VLAN, provisioned by the versioned StackScript in ../stackscript.sh.

locals {
  stackscript_source  = file("${path.module}/../stackscript.sh")
  stackscript_version = regex("devenv-stackscript-version: ([0-9]+)", local.stackscript_source)[0]

  expires_at = timeadd(var.created_at, "${var.ttl_hours}h")

  # A stable host address per workspace id (hosts 10..249 of the VLAN range).
  private_ip = cidrhost(var.vlan_cidr, 10 + parseint(substr(sha1(var.workspace_id), 0, 4), 16) % 240)

  # key:value tags; remote-reap reads ttl (UTC, minute precision) to find expired workspaces.
  tags = [
    "devenv",
    "owner:${var.owner}",
    "region:${var.region}",
    "ttl:${formatdate("YYYY-MM-DD'T'hh:mm'Z'", local.expires_at)}",
    "workspace_id:${var.workspace_id}",
  ]
}

resource "linode_stackscript" "devenv" {
  label       = "devenv-workspace-v${local.stackscript_version}"
  description = "devenv remote workspace: installs the dependency suite and its systemd units (v${local.stackscript_version})"
  script      = local.stackscript_source
  images      = [var.image]
  is_public   = false
  rev_note    = "stackscript version ${local.stackscript_version}"
}

resource "linode_instance" "workspace" {
  label           = "devenv-${var.workspace_id}"
  region          = var.region
  type            = var.instance_type
  image           = var.image
  authorized_keys = [for k in var.ssh_public_keys : chomp(k)]
  stackscript_id  = linode_stackscript.devenv.id
  stackscript_data = {
    workspace_id = var.workspace_id
    private_ip   = local.private_ip
    repo_url     = var.devenv_repo_url
    repo_ref     = var.devenv_ref
    vault_addr   = var.vault_addr
  }
  tags = local.tags

  # eth0: the public interface (SSH only, see the firewall); eth1: the private VLAN.
  interface {
    purpose = "public"
  }

  interface {
    purpose      = "vlan"
    label        = var.vlan_label
    ipam_address = "${local.private_ip}/${split("/", var.vlan_cidr)[1]}"
  }
}

resource "linode_firewall" "workspace" {
  label           = "devenv-${var.workspace_id}"
  tags            = local.tags
  inbound_policy  = "DROP"
  outbound_policy = "ACCEPT"

  inbound {
    label    = "ssh"
    action   = "ACCEPT"
    protocol = "TCP"
    ports    = "22"
    ipv4     = [for c in var.ssh_allowed_cidrs : c if !strcontains(c, ":")]
    ipv6     = [for c in var.ssh_allowed_cidrs : c if strcontains(c, ":")]
  }

  inbound {
    label    = "vlan-tcp"
    action   = "ACCEPT"
    protocol = "TCP"
    ipv4     = [var.vlan_cidr]
  }

  inbound {
    label    = "vlan-udp"
    action   = "ACCEPT"
    protocol = "UDP"
    ipv4     = [var.vlan_cidr]
  }

  inbound {
    label    = "vlan-icmp"
    action   = "ACCEPT"
    protocol = "ICMP"
    ipv4     = [var.vlan_cidr]
  }

  linodes = [linode_instance.workspace.id]
}
