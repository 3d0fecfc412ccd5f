terraform {
  required_version = ">= 1.6"

  required_providers {
    linode = {
      source  = "linode/linode"
      version = "~> 2.31"
    }
  }

  # scripts/dev/remote.sh keeps one state file per workspace under .devenv/remote/<id>/
  # (`terraform init -backend-config=path=...`). The provider reads LINODE_TOKEN.
  backend "local" {}
}
