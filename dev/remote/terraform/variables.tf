variable "workspace_id" {
  description = "Workspace identifier (lower-case letters, digits, dashes); names and tags every resource."
  type        = string

  validation {
    # Linode tags are at most 50 characters and "workspace_id:" takes 13 of them.
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,35}$", var.workspace_id))
    error_message = "workspace_id must be 2-36 characters of a-z, 0-9 and '-', starting with a letter or digit."
  }
}

variable "owner" {
  description = "Who the workspace belongs to (tag owner:<owner>); remote-reap reports it."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._@-]{1,40}$", var.owner))
    error_message = "owner must be 1-40 characters of letters, digits, '.', '_', '@' or '-'."
  }
}

variable "region" {
  description = "Linode region, e.g. us-east, eu-central."
  type        = string
  default     = "us-east"
}

variable "ttl_hours" {
  description = "Hours until `make remote-reap` may destroy the workspace (tag ttl:<UTC expiry>)."
  type        = number
  default     = 24

  validation {
    condition     = var.ttl_hours >= 1 && var.ttl_hours <= 168 && floor(var.ttl_hours) == var.ttl_hours
    error_message = "ttl_hours must be a whole number of hours between 1 and 168 (one week)."
  }
}

variable "created_at" {
  description = "Creation time, RFC 3339 UTC (remote.sh passes it once and keeps it, so the ttl tag is stable across applies)."
  type        = string

  validation {
    condition     = can(timeadd(var.created_at, "1h"))
    error_message = "created_at must be an RFC 3339 timestamp such as 2026-01-31T09:00:00Z."
  }
}

variable "instance_type" {
  description = "Linode plan for the workspace."
  type        = string
  default     = "g6-standard-2"
}

variable "image" {
  description = "Base image; the StackScript targets Debian 12."
  type        = string
  default     = "linode/debian12"
}

variable "ssh_public_keys" {
  description = "SSH public keys allowed to log in as root and as the devenv user."
  type        = list(string)

  validation {
    condition     = length(var.ssh_public_keys) > 0 && alltrue([for k in var.ssh_public_keys : can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp[0-9]+) ", k))])
    error_message = "ssh_public_keys needs at least one OpenSSH public key line (ssh-ed25519 ..., ssh-rsa ...)."
  }
}

variable "ssh_allowed_cidrs" {
  description = "Source ranges allowed to reach SSH (port 22) on the public interface."
  type        = list(string)
  default     = ["0.0.0.0/0", "::/0"]
}

variable "vlan_label" {
  description = "Private VLAN the workspace joins (created by Linode on first use in the region)."
  type        = string
  default     = "devenv-vlan"
}

variable "vlan_cidr" {
  description = "Address range of the VLAN; each workspace takes one host address in it."
  type        = string
  default     = "10.77.0.0/24"

  validation {
    condition     = can(cidrhost(var.vlan_cidr, 0))
    error_message = "vlan_cidr must be an IPv4 CIDR such as 10.77.0.0/24."
  }
}

variable "devenv_repo_url" {
  description = "Git URL of the devenv repository the StackScript checks out."
  type        = string
  default     = "https://github.com/example/devenv.git"
}

variable "devenv_ref" {
  description = "Branch, tag or commit of devenv to install."
  type        = string
  default     = "main"
}

variable "vault_addr" {
  description = "Vault address the host's secrets-sync renews .env.linode from (empty: local generator)."
  type        = string
  default     = ""
}
