output "instance_id" {
  description = "Linode instance id of the workspace."
  value       = linode_instance.workspace.id
}

output "private_ip" {
  description = "The workspace's address on the VLAN (what the bundle's *_HOST keys point at)."
  value       = local.private_ip
}

output "public_ipv4" {
  description = "Public address; only SSH is reachable on it."
  value       = linode_instance.workspace.ip_address
}

output "stackscript_version" {
  description = "Version of dev/remote/stackscript.sh the instance was provisioned with."
  value       = local.stackscript_version
}

output "stackscript_id" {
  description = "Id of the StackScript revision."
  value       = linode_stackscript.devenv.id
}

output "expires_at" {
  description = "When the ttl tag lets remote-reap destroy the workspace (UTC)."
  value       = local.expires_at
}

output "tags" {
  description = "Tags on the instance and firewall."
  value       = local.tags
}
