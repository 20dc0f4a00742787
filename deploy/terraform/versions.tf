# Providers. There is no Terraform registry on the machine CI runs on, so
# `terraform init` / `validate` cannot run there: CI parses every file as HCL2
# and runs checkov instead (.ci/run, step "deploy checks"). Run `terraform
# init` on a machine that reaches registry.terraform.io.
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.14"
    }
    azuread = {
      source  = "hashicorp/azuread"
      version = "~> 3.1"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }
}

provider "azurerm" {
  subscription_id = var.subscription_id
  tenant_id       = var.tenant_id
  # Key Vault references need the secrets to outlive a `terraform destroy`
  # until purge protection allows otherwise; never purge on destroy.
  features {
    key_vault {
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
    }
  }
}

provider "azuread" {
  tenant_id = var.tenant_id
}
