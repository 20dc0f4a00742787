# Azure resources: the two containers (API and web app) on one Linux App
# Service plan, with PostgreSQL for the API's data, Redis for the web app's
# sessions and token cache, Key Vault for every secret, a registry, a
# managed identity and Log Analytics.
#
# Why App Service (Web App for Containers) and not Container Apps: both
# binaries are long-running servers that keep signing keys fresh in the
# background and hold warm caches, so always-on instances suit them better
# than scale-to-zero; App Service resolves Key Vault references in app
# settings by itself, probes a health path, pulls from the registry with a
# managed identity, and is what seed 000's Deployment Center workflow
# deploys to (az webapp / azure/webapps-deploy). Container Apps would add an
# environment and revisions that this two-container system does not need.

data "azurerm_client_config" "current" {}

resource "random_string" "suffix" {
  length  = 6
  lower   = true
  upper   = false
  numeric = true
  special = false
}

locals {
  suffix        = random_string.suffix.result
  api_app_name  = "${var.name_prefix}-api-${local.suffix}"
  web_app_name  = "${var.name_prefix}-web-${local.suffix}"
  image         = "${var.image_repository}:${var.image_tag}"
  registry_url  = "https://${azurerm_container_registry.main.login_server}"
  database_name = "heroes"
  # Both containers listen here (API_PORT, WEB_PORT); App Service forwards 443 to it.
  container_port = "8080"
}

resource "azurerm_resource_group" "main" {
  name     = "rg-${var.name_prefix}-${local.suffix}"
  location = var.location
  tags     = var.tags
}

# --- Identity the web apps run as -------------------------------------------
# Pulls images (AcrPull) and reads Key Vault references (Key Vault Secrets
# User); no password anywhere.
resource "azurerm_user_assigned_identity" "apps" {
  name                = "id-${var.name_prefix}-apps-${local.suffix}"
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = var.tags
}

# --- Logs --------------------------------------------------------------------
resource "azurerm_log_analytics_workspace" "main" {
  name                = "log-${var.name_prefix}-${local.suffix}"
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = var.tags
}

# --- Container registry -------------------------------------------------------
resource "azurerm_container_registry" "main" {
  #checkov:skip=CKV_AZURE_139:Public endpoint by design: GitHub-hosted runners push and App Service (no VNet here) pulls; access is Entra-only (admin user off, AcrPush/AcrPull roles).
  #checkov:skip=CKV_AZURE_165:Geo-replication needs the Premium tier; one region holds the whole system.
  #checkov:skip=CKV_AZURE_166:Image quarantine needs a scanner that releases images; the deploy workflow builds and pushes from CI only.
  #checkov:skip=CKV_AZURE_167:Untagged-manifest retention needs the Premium tier; every deploy pushes a tagged image.
  #checkov:skip=CKV_AZURE_164:Content trust (Notary v1) is deprecated by Azure and needs the Premium tier.
  #checkov:skip=CKV_AZURE_233:Zone redundancy needs the Premium tier; images are rebuilt by CI if lost.
  #checkov:skip=CKV_AZURE_237:Dedicated data endpoints need the Premium tier and matter behind firewalls, which this registry has none of.
  name                          = "cr${var.name_prefix}${local.suffix}"
  resource_group_name           = azurerm_resource_group.main.name
  location                      = azurerm_resource_group.main.location
  sku                           = "Standard"
  admin_enabled                 = false
  public_network_access_enabled = true
  tags                          = var.tags
}

resource "azurerm_role_assignment" "apps_acr_pull" {
  scope                = azurerm_container_registry.main.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.apps.principal_id
  principal_type       = "ServicePrincipal"
}

# --- Key Vault: the secrets the app settings reference ----------------------
resource "azurerm_key_vault" "main" {
  #checkov:skip=CKV_AZURE_109:No VNet in this deployment: App Service resolves Key Vault references over the public endpoint; access is RBAC-only (the apps' identity may read secrets, nothing else).
  #checkov:skip=CKV2_AZURE_32:No VNet, hence no private endpoint (see CKV_AZURE_109).
  #checkov:skip=CKV_AZURE_189:App Service resolves Key Vault references over the public endpoint without VNet integration (see CKV_AZURE_109).
  name                       = "kv-${var.name_prefix}-${local.suffix}"
  resource_group_name        = azurerm_resource_group.main.name
  location                   = azurerm_resource_group.main.location
  tenant_id                  = var.tenant_id
  sku_name                   = "standard"
  enable_rbac_authorization  = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 90
  tags                       = var.tags

  network_acls {
    default_action = "Allow"
    bypass         = "AzureServices"
  }
}

# Whoever runs terraform writes the secrets ...
resource "azurerm_role_assignment" "operator_kv_secrets" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

# ... and the apps read them.
resource "azurerm_role_assignment" "apps_kv_secrets" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.apps.principal_id
  principal_type       = "ServicePrincipal"
}

# Role assignments take a while to reach Key Vault's data plane: writing a
# secret right after granting the role would be refused.
resource "time_sleep" "operator_kv_secrets" {
  create_duration = "90s"
  depends_on      = [azurerm_role_assignment.operator_kv_secrets]
}

# Only with web_credential = "secret".
resource "azurerm_key_vault_secret" "web_client_secret" {
  count           = local.web_uses_secret ? 1 : 0
  name            = "web-client-secret"
  value           = azuread_application_password.heroes_web[0].value
  key_vault_id    = azurerm_key_vault.main.id
  content_type    = "text/plain"
  expiration_date = local.client_secret_end_date
  tags            = var.tags
  depends_on      = [time_sleep.operator_kv_secrets]
}

resource "azurerm_key_vault_secret" "daemon_client_secret" {
  name            = "daemon-client-secret"
  value           = azuread_application_password.daemon.value
  key_vault_id    = azurerm_key_vault.main.id
  content_type    = "text/plain"
  expiration_date = local.client_secret_end_date
  tags            = var.tags
  depends_on      = [time_sleep.operator_kv_secrets]
}

resource "azurerm_key_vault_secret" "database_url" {
  #checkov:skip=CKV_AZURE_41:A connection URL has no expiry of its own: it changes when Terraform changes its password or key, never on a date.
  name         = "database-url"
  value        = "postgres://${azurerm_postgresql_flexible_server.main.administrator_login}:${random_password.postgres.result}@${azurerm_postgresql_flexible_server.main.fqdn}:5432/${local.database_name}?sslmode=require"
  key_vault_id = azurerm_key_vault.main.id
  content_type = "text/uri"
  tags         = var.tags
  depends_on   = [time_sleep.operator_kv_secrets]
}

resource "azurerm_key_vault_secret" "redis_url" {
  #checkov:skip=CKV_AZURE_41:A connection URL has no expiry of its own: it changes when Terraform changes its password or key, never on a date.
  name         = "redis-url"
  value        = "rediss://:${azurerm_redis_cache.main.primary_access_key}@${azurerm_redis_cache.main.hostname}:${azurerm_redis_cache.main.ssl_port}"
  key_vault_id = azurerm_key_vault.main.id
  content_type = "text/uri"
  tags         = var.tags
  depends_on   = [time_sleep.operator_kv_secrets]
}

# --- PostgreSQL: heroes and todo items ---------------------------------------
resource "random_password" "postgres" {
  # Letters and digits only: it goes into DATABASE_URL unescaped.
  length  = 40
  special = false
}

resource "azurerm_postgresql_flexible_server" "main" {
  #checkov:skip=CKV2_AZURE_57:No VNet, hence no private endpoint: the firewall admits Azure services only and TLS is required.
  name                          = "psql-${var.name_prefix}-${local.suffix}"
  resource_group_name           = azurerm_resource_group.main.name
  location                      = azurerm_resource_group.main.location
  version                       = "16"
  sku_name                      = var.postgres_sku
  storage_mb                    = var.postgres_storage_mb
  backup_retention_days         = var.postgres_backup_retention_days
  geo_redundant_backup_enabled  = var.postgres_geo_redundant_backup
  administrator_login           = "heroes"
  administrator_password        = random_password.postgres.result
  public_network_access_enabled = true
  tags                          = var.tags

  authentication {
    password_auth_enabled         = true
    active_directory_auth_enabled = false
  }

  lifecycle {
    # Azure picks the zone; moving it is a failover, never a plan change.
    ignore_changes = [zone]
  }
}

resource "azurerm_postgresql_flexible_server_configuration" "require_tls" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.main.id
  value     = "on"
}

resource "azurerm_postgresql_flexible_server_database" "heroes" {
  name      = local.database_name
  server_id = azurerm_postgresql_flexible_server.main.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

# 0.0.0.0 is Azure's "allow Azure services" rule: App Service's outbound
# addresses are shared and known only after the apps exist.
resource "azurerm_postgresql_flexible_server_firewall_rule" "azure_services" {
  #checkov:skip=CKV2_AZURE_26:0.0.0.0 admits Azure services only (not the internet); App Service without VNet integration has no fixed outbound address to name instead. TLS and a 40-character password are required.
  name             = "allow-azure-services"
  server_id        = azurerm_postgresql_flexible_server.main.id
  start_ip_address = "0.0.0.0"
  end_ip_address   = "0.0.0.0"
}

# --- Redis: the web app's sessions and token cache ---------------------------
resource "azurerm_redis_cache" "main" {
  #checkov:skip=CKV_AZURE_89:No VNet in this deployment: the web app reaches Redis over its public endpoint, TLS only, with an access key kept in Key Vault.
  name                          = "redis-${var.name_prefix}-${local.suffix}"
  resource_group_name           = azurerm_resource_group.main.name
  location                      = azurerm_resource_group.main.location
  sku_name                      = var.redis_sku
  family                        = "C"
  capacity                      = var.redis_capacity
  non_ssl_port_enabled          = false
  minimum_tls_version           = "1.2"
  public_network_access_enabled = true
  tags                          = var.tags

  redis_configuration {}
}

# --- App Service: the plan and the two containers ----------------------------
resource "azurerm_service_plan" "main" {
  #checkov:skip=CKV_AZURE_225:Zone redundancy needs a Premium v3 plan and three instances; app_service_sku and app_service_instances choose it.
  #checkov:skip=CKV_AZURE_212:The instance count is a variable (app_service_instances); one instance is the default for a demo.
  name                = "asp-${var.name_prefix}-${local.suffix}"
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  os_type             = "Linux"
  sku_name            = var.app_service_sku
  worker_count        = var.app_service_instances
  tags                = var.tags
}

resource "azurerm_linux_web_app" "api" {
  #checkov:skip=CKV_AZURE_13:App Service authentication (Easy Auth) is off on purpose: the API validates every token itself (entra-auth) and answers RFC 6750 errors.
  #checkov:skip=CKV_AZURE_17:Client certificates are not how callers authenticate: bearer tokens are.
  #checkov:skip=CKV_AZURE_88:The container keeps no files: data is in PostgreSQL.
  #checkov:skip=CKV_AZURE_222:The API is public by design (browsers and daemons call it); every route but /, /health, /docs and /openapi.json needs a token.
  name                            = local.api_app_name
  resource_group_name             = azurerm_resource_group.main.name
  location                        = azurerm_service_plan.main.location
  service_plan_id                 = azurerm_service_plan.main.id
  https_only                      = true
  client_certificate_enabled      = false
  public_network_access_enabled   = true
  key_vault_reference_identity_id = azurerm_user_assigned_identity.apps.id
  tags                            = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.apps.id]
  }

  site_config {
    always_on                                     = true
    ftps_state                                    = "Disabled"
    http2_enabled                                 = true
    minimum_tls_version                           = "1.2"
    health_check_path                             = var.api_health_check_path
    health_check_eviction_time_in_min             = 5
    container_registry_use_managed_identity       = true
    container_registry_managed_identity_client_id = azurerm_user_assigned_identity.apps.client_id
    app_command_line                              = "api"

    application_stack {
      docker_image_name   = local.image
      docker_registry_url = local.registry_url
    }
  }

  # Exactly the variables `entra api` reads (crates/entra-cli/src/api.rs),
  # plus WEBSITES_PORT, App Service's own: where the container listens.
  app_settings = {
    AZURE_AUTHORITY_HOST    = var.authority_host
    AZURE_TENANT_ID         = var.tenant_id
    AZURE_CLIENT_ID         = azuread_application.heroes_api.client_id
    API_BIND                = "0.0.0.0"
    API_PORT                = local.container_port
    API_SWAGGER_CLIENT_ID   = azuread_application.swagger_ui.client_id
    API_ALLOWED_CLIENT_APPS = join(",", [azuread_application.heroes_web.client_id, azuread_application.swagger_ui.client_id, azuread_application.daemon.client_id, azuread_application.cli.client_id])
    DATABASE_URL            = "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault_secret.database_url.versionless_id})"
    WEBSITES_PORT           = local.container_port
  }

  logs {
    detailed_error_messages = true
    failed_request_tracing  = true
    http_logs {
      file_system {
        retention_in_days = 7
        retention_in_mb   = 35
      }
    }
  }

  lifecycle {
    # The deploy workflow sets each release's image tag.
    ignore_changes = [site_config[0].application_stack[0].docker_image_name]
  }

  depends_on = [azurerm_role_assignment.apps_acr_pull, azurerm_role_assignment.apps_kv_secrets]
}

resource "azurerm_linux_web_app" "web" {
  #checkov:skip=CKV_AZURE_13:App Service authentication (Easy Auth) is off on purpose: the app signs users in itself (entra-client, PKCE, state and nonce).
  #checkov:skip=CKV_AZURE_17:Client certificates are not how users authenticate: they sign in with Entra ID.
  #checkov:skip=CKV_AZURE_88:The container keeps no files: sessions and tokens are in Redis.
  #checkov:skip=CKV_AZURE_222:The web app is public by design: people open it in a browser.
  name                            = local.web_app_name
  resource_group_name             = azurerm_resource_group.main.name
  location                        = azurerm_service_plan.main.location
  service_plan_id                 = azurerm_service_plan.main.id
  https_only                      = true
  client_certificate_enabled      = false
  public_network_access_enabled   = true
  key_vault_reference_identity_id = azurerm_user_assigned_identity.apps.id
  tags                            = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.apps.id]
  }

  site_config {
    always_on                                     = true
    ftps_state                                    = "Disabled"
    http2_enabled                                 = true
    minimum_tls_version                           = "1.2"
    health_check_path                             = var.web_health_check_path
    health_check_eviction_time_in_min             = 5
    container_registry_use_managed_identity       = true
    container_registry_managed_identity_client_id = azurerm_user_assigned_identity.apps.client_id
    app_command_line                              = "web"

    application_stack {
      docker_image_name   = local.image
      docker_registry_url = local.registry_url
    }
  }

  # Exactly the variables `entra web` reads (crates/entra-cli/src/web.rs),
  # plus WEBSITES_PORT, App Service's own: where the container listens. The
  # credential (web_credential): the managed identity as federated
  # credential, or the client secret from Key Vault.
  app_settings = merge(
    {
      AZURE_AUTHORITY_HOST = var.authority_host
      AZURE_TENANT_ID      = var.tenant_id
      AZURE_CLIENT_ID      = azuread_application.heroes_web.client_id
      WEB_PUBLIC_URL       = local.web_public_url
      WEB_BIND             = "0.0.0.0"
      WEB_PORT             = local.container_port
      WEB_SCOPES           = join(",", [for scope in ["Heroes.Read", "Heroes.Write", "Heroes.Delete"] : "api://${azuread_application.heroes_api.client_id}/${scope}"])
      API_BASE_URL         = local.api_public_url
      SESSION_STORE        = "redis"
      REDIS_URL            = "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault_secret.redis_url.versionless_id})"
      WEBSITES_PORT        = local.container_port
    },
    local.web_uses_secret ? tomap({
      AZURE_CLIENT_SECRET = "@Microsoft.KeyVault(SecretUri=${join("", azurerm_key_vault_secret.web_client_secret[*].versionless_id)})"
      }) : tomap({
      WEB_MANAGED_IDENTITY_ASSERTION = "true"
      WEB_MANAGED_IDENTITY_CLIENT_ID = azurerm_user_assigned_identity.apps.client_id
    }),
  )

  logs {
    detailed_error_messages = true
    failed_request_tracing  = true
    http_logs {
      file_system {
        retention_in_days = 7
        retention_in_mb   = 35
      }
    }
  }

  lifecycle {
    ignore_changes = [site_config[0].application_stack[0].docker_image_name]
  }

  depends_on = [azurerm_role_assignment.apps_acr_pull, azurerm_role_assignment.apps_kv_secrets]
}

# --- Diagnostics to Log Analytics --------------------------------------------
resource "azurerm_monitor_diagnostic_setting" "api" {
  name                       = "to-log-analytics"
  target_resource_id         = azurerm_linux_web_app.api.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  enabled_log { category = "AppServiceConsoleLogs" }
  enabled_log { category = "AppServiceHTTPLogs" }
  enabled_log { category = "AppServicePlatformLogs" }
}

resource "azurerm_monitor_diagnostic_setting" "web" {
  name                       = "to-log-analytics"
  target_resource_id         = azurerm_linux_web_app.web.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  enabled_log { category = "AppServiceConsoleLogs" }
  enabled_log { category = "AppServiceHTTPLogs" }
  enabled_log { category = "AppServicePlatformLogs" }
}

resource "azurerm_monitor_diagnostic_setting" "key_vault" {
  name                       = "to-log-analytics"
  target_resource_id         = azurerm_key_vault.main.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  enabled_log { category = "AuditEvent" }
}

resource "azurerm_monitor_diagnostic_setting" "postgres" {
  name                       = "to-log-analytics"
  target_resource_id         = azurerm_postgresql_flexible_server.main.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  enabled_log { category = "PostgreSQLLogs" }
}
