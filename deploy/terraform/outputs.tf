# Outputs: what the binaries, the deploy workflow and people need.

output "tenant_id" {
  description = "AZURE_TENANT_ID of every binary and of the deploy workflow."
  value       = var.tenant_id
}

output "subscription_id" {
  description = "AZURE_SUBSCRIPTION_ID repository variable of the deploy workflow."
  value       = var.subscription_id
}

output "github_deploy_client_id" {
  description = "AZURE_CLIENT_ID repository variable of the deploy workflow: the managed identity GitHub Actions logs in as (OIDC, no secret)."
  value       = azurerm_user_assigned_identity.github_deploy.client_id
}

output "resource_group" {
  description = "Resource group holding everything."
  value       = azurerm_resource_group.main.name
}

output "registry_login_server" {
  description = "Container registry the deploy workflow pushes the image to."
  value       = azurerm_container_registry.main.login_server
}

output "registry_name" {
  description = "Container registry name (az acr login --name ...)."
  value       = azurerm_container_registry.main.name
}

output "image_repository" {
  description = "Repository of the image in the registry."
  value       = var.image_repository
}

output "api_app_name" {
  description = "Web app running `entra api`."
  value       = azurerm_linux_web_app.api.name
}

output "web_app_name" {
  description = "Web app running `entra web`."
  value       = azurerm_linux_web_app.web.name
}

output "api_url" {
  description = "The heroes API (Swagger UI at /docs); API_BASE_URL of the web app."
  value       = local.api_public_url
}

output "web_url" {
  description = "The web app: open it and sign in. WEB_PUBLIC_URL."
  value       = local.web_public_url
}

output "authority_host" {
  description = "AZURE_AUTHORITY_HOST of every binary."
  value       = var.authority_host
}

output "client_ids" {
  description = "The registrations' application (client) ids: AZURE_CLIENT_ID of `entra api` (heroes_api), `entra web` (heroes_web), `entra token` (daemon, cli), and API_SWAGGER_CLIENT_ID (swagger_ui)."
  value = {
    heroes_api = azuread_application.heroes_api.client_id
    heroes_web = azuread_application.heroes_web.client_id
    swagger_ui = azuread_application.swagger_ui.client_id
    daemon     = azuread_application.daemon.client_id
    cli        = azuread_application.cli.client_id
  }
}

output "api_client_id" {
  description = "AZURE_CLIENT_ID of `entra api`: the Heroes API's application id (tokens' audience)."
  value       = azuread_application.heroes_api.client_id
}

output "daemon_client_id" {
  description = "AZURE_CLIENT_ID of `entra token` as the daemon (client credentials)."
  value       = azuread_application.daemon.client_id
}

output "cli_client_id" {
  description = "AZURE_CLIENT_ID of `entra token --device-code` (the public client)."
  value       = azuread_application.cli.client_id
}

output "emulator_app_id_mapping" {
  description = "Each emulator app id (crates/entra-emulator/default.toml) and the client id that stands for it in this tenant: replace the one by the other in commands written for the demo."
  value = {
    (local.emulator_app_ids.heroes_api) = azuread_application.heroes_api.client_id
    (local.emulator_app_ids.heroes_web) = azuread_application.heroes_web.client_id
    (local.emulator_app_ids.swagger_ui) = azuread_application.swagger_ui.client_id
    (local.emulator_app_ids.daemon)     = azuread_application.daemon.client_id
    (local.emulator_app_ids.cli)        = azuread_application.cli.client_id
  }
}

output "api_scope" {
  description = "The scope a daemon asks for (`entra token --scope`): every application permission it was granted."
  value       = "api://${azuread_application.heroes_api.client_id}/.default"
}

output "key_vault_name" {
  description = "Key Vault holding the client secrets and connection URLs (az keyvault secret show --vault-name ... --name daemon-client-secret)."
  value       = azurerm_key_vault.main.name
}

output "daemon_client_secret_name" {
  description = "Name of the Key Vault secret holding the daemon's client secret (AZURE_CLIENT_SECRET of `entra token`)."
  value       = azurerm_key_vault_secret.daemon_client_secret.name
}

output "log_analytics_workspace_id" {
  description = "Log Analytics workspace receiving the web apps', Key Vault's and PostgreSQL's logs."
  value       = azurerm_log_analytics_workspace.main.workspace_id
}
