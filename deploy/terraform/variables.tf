# Inputs. Copy terraform.tfvars.example to terraform.tfvars and fill it in.

variable "subscription_id" {
  description = "The Azure subscription the resources go into (az account show --query id -o tsv)."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "subscription_id must be a GUID."
  }
}

variable "tenant_id" {
  description = "The Microsoft Entra tenant that holds the app registrations and signs the tokens (az account show --query tenantId -o tsv)."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.tenant_id))
    error_message = "tenant_id must be a GUID."
  }
}

variable "location" {
  description = "Azure region of every resource, e.g. westeurope."
  type        = string
  default     = "westeurope"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]+$", var.location))
    error_message = "location must be a region name such as westeurope (lower case, no spaces: az account list-locations -o table)."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (3 to 12 lower-case letters or digits, starting with a letter); a random suffix keeps the globally unique names unique."
  type        = string
  default     = "heroes"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,11}$", var.name_prefix))
    error_message = "name_prefix must be 3 to 12 lower-case letters or digits, starting with a letter."
  }
}

variable "authority_host" {
  description = "The Entra authority host the binaries use (AZURE_AUTHORITY_HOST): the public cloud, or a sovereign cloud's host."
  type        = string
  default     = "https://login.microsoftonline.com"
  validation {
    condition     = can(regex("^https://[a-z0-9.-]+$", var.authority_host))
    error_message = "authority_host must be an https origin without a path, e.g. https://login.microsoftonline.com."
  }
}

variable "admin_principal_object_id" {
  description = "Object id of the user or group that gets the Heroes API's Admin and User app roles (sees every todo item): az ad user show --id you@contoso.com --query id -o tsv, or az ad group show -g NAME --query id -o tsv."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.admin_principal_object_id))
    error_message = "admin_principal_object_id must be the object id (a GUID) of a user or a group."
  }
}

variable "user_principal_object_ids" {
  description = "Object ids of further users or groups that get the Heroes API's User app role (their own todo items only)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for id in var.user_principal_object_ids : can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", id))])
    error_message = "Every entry of user_principal_object_ids must be an object id (a GUID)."
  }
}

variable "github_repository" {
  description = "The GitHub repository whose deploy workflow may log in to Azure, as OWNER/REPO."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$", var.github_repository))
    error_message = "github_repository must be OWNER/REPO, e.g. contoso/entra-rs."
  }
}

variable "github_branch" {
  description = "The branch whose workflow runs may deploy (the federated credential's subject is repo:OWNER/REPO:ref:refs/heads/BRANCH)."
  type        = string
  default     = "main"
  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,200}$", var.github_branch))
    error_message = "github_branch must be a branch name."
  }
}

variable "github_environment" {
  description = "The GitHub environment of the deploy job (deploy.yml: environment: production). A job in an environment presents the subject repo:OWNER/REPO:environment:NAME instead of the branch's, so it gets a federated credential of its own; empty for none."
  type        = string
  default     = "production"
  validation {
    condition     = can(regex("^[A-Za-z0-9._ -]{0,255}$", var.github_environment))
    error_message = "github_environment must be an environment name (letters, digits, . _ - and spaces) or empty."
  }
}

variable "app_service_sku" {
  description = "SKU of the Linux App Service plan both web apps run on. P0v3 (Premium v3) is the smallest production tier; B1 is cheaper for a trial."
  type        = string
  default     = "P0v3"
  validation {
    condition     = contains(["B1", "B2", "B3", "S1", "S2", "S3", "P0v3", "P1v3", "P2v3", "P3v3"], var.app_service_sku)
    error_message = "app_service_sku must be one of B1, B2, B3, S1, S2, S3, P0v3, P1v3, P2v3, P3v3."
  }
}

variable "app_service_instances" {
  description = "Instances of the App Service plan. Both apps keep their state in PostgreSQL and Redis, so any number works."
  type        = number
  default     = 1
  validation {
    condition     = var.app_service_instances >= 1 && var.app_service_instances <= 10 && floor(var.app_service_instances) == var.app_service_instances
    error_message = "app_service_instances must be a whole number from 1 to 10."
  }
}

variable "image_repository" {
  description = "Repository of the container image in the registry (the deploy workflow pushes REGISTRY/REPOSITORY:TAG)."
  type        = string
  default     = "entra"
  validation {
    condition     = can(regex("^[a-z0-9]+([._/-][a-z0-9]+)*$", var.image_repository))
    error_message = "image_repository must be a lower-case registry repository name."
  }
}

variable "image_tag" {
  description = "Tag the web apps start with. The deploy workflow sets the tag of each release afterwards; Terraform leaves it alone then."
  type        = string
  default     = "latest"
  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid image tag."
  }
}

variable "api_health_check_path" {
  description = "Path App Service probes on the API to route traffic only to ready instances: the readiness probe (signing keys loaded, database reachable)."
  type        = string
  default     = "/health/ready"
  validation {
    condition     = startswith(var.api_health_check_path, "/")
    error_message = "api_health_check_path must start with /."
  }
}

variable "web_health_check_path" {
  description = "Path App Service probes on the web app: the readiness probe (session store reachable, identity provider's metadata loaded)."
  type        = string
  default     = "/health/ready"
  validation {
    condition     = startswith(var.web_health_check_path, "/")
    error_message = "web_health_check_path must start with /."
  }
}

variable "postgres_sku" {
  description = "SKU of the PostgreSQL Flexible Server holding heroes and todo items."
  type        = string
  default     = "B_Standard_B1ms"
  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_[A-Za-z0-9_]+$", var.postgres_sku))
    error_message = "postgres_sku must be a Flexible Server SKU such as B_Standard_B1ms or GP_Standard_D2ds_v5."
  }
}

variable "postgres_storage_mb" {
  description = "Storage of the PostgreSQL server in MB."
  type        = number
  default     = 32768
  validation {
    condition     = contains([32768, 65536, 131072, 262144, 524288, 1048576], var.postgres_storage_mb)
    error_message = "postgres_storage_mb must be one of 32768, 65536, 131072, 262144, 524288, 1048576."
  }
}

variable "postgres_backup_retention_days" {
  description = "Days of point-in-time backups of the PostgreSQL server."
  type        = number
  default     = 14
  validation {
    condition     = var.postgres_backup_retention_days >= 7 && var.postgres_backup_retention_days <= 35
    error_message = "postgres_backup_retention_days must be from 7 to 35."
  }
}

variable "postgres_geo_redundant_backup" {
  description = "Keep the PostgreSQL backups in the paired region too (restorable after a regional outage). Set only at creation; false where the region has no pair."
  type        = bool
  default     = true
}

variable "redis_sku" {
  description = "Azure Cache for Redis tier holding the web app's sessions and token cache: Basic (no replica) or Standard (replicated)."
  type        = string
  default     = "Standard"
  validation {
    condition     = contains(["Basic", "Standard"], var.redis_sku)
    error_message = "redis_sku must be Basic or Standard."
  }
}

variable "redis_capacity" {
  description = "Size of the Redis cache (C family: 0 is 250 MB, 1 is 1 GB, up to 6)."
  type        = number
  default     = 0
  validation {
    condition     = var.redis_capacity >= 0 && var.redis_capacity <= 6 && floor(var.redis_capacity) == var.redis_capacity
    error_message = "redis_capacity must be a whole number from 0 to 6."
  }
}

variable "web_credential" {
  description = "How the web app (Heroes Web) proves itself to Entra ID when it redeems codes: \"federated\" (default) makes the apps' user-assigned managed identity a federated credential of the registration, so no web secret exists anywhere (entra web --managed-identity-assertion); \"secret\" creates a client secret, rotated and kept in Key Vault."
  type        = string
  default     = "federated"
  validation {
    condition     = contains(["federated", "secret"], var.web_credential)
    error_message = "web_credential must be \"federated\" or \"secret\"."
  }
}

variable "client_secret_rotation_days" {
  description = "Lifetime of the client secrets (the daemon's, and the web app's with web_credential = \"secret\"): after it, the next terraform apply creates a new one and stores it in Key Vault."
  type        = number
  default     = 180
  validation {
    condition     = var.client_secret_rotation_days >= 30 && var.client_secret_rotation_days <= 730
    error_message = "client_secret_rotation_days must be from 30 to 730."
  }
}

variable "log_retention_days" {
  description = "Days the Log Analytics workspace keeps logs."
  type        = number
  default     = 30
  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be from 30 to 730."
  }
}

variable "tags" {
  description = "Tags on every Azure resource."
  type        = map(string)
  default     = { project = "entra-rs" }
}
