# The deploy workflow (.github/workflows/deploy.yml) logs in to Azure from
# GitHub Actions with OpenID Connect (azure/login): no secret is stored in
# GitHub. It is a user-assigned managed identity with federated credentials
# that trust GitHub's tokens for one repository's main branch (subject
# repo:OWNER/REPO:ref:refs/heads/main) and, since deploy.yml's job runs in the
# `production` environment, for that environment
# (repo:OWNER/REPO:environment:production); it may only push images and
# update the two web apps. A managed identity rather than an app
# registration: no credential of any kind exists to leak or rotate.
#
# Set the repository variables it reads from this configuration's outputs:
#   AZURE_CLIENT_ID       = terraform output -raw github_deploy_client_id
#   AZURE_TENANT_ID       = terraform output -raw tenant_id
#   AZURE_SUBSCRIPTION_ID = terraform output -raw subscription_id

resource "azurerm_user_assigned_identity" "github_deploy" {
  name                = "id-${var.name_prefix}-github-deploy-${local.suffix}"
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "github_main" {
  # Names allow letters, digits, - and _ only.
  name                = substr(replace("github-${var.github_repository}-${var.github_branch}", "/[^A-Za-z0-9_-]/", "-"), 0, 120)
  resource_group_name = azurerm_resource_group.main.name
  parent_id           = azurerm_user_assigned_identity.github_deploy.id
  issuer              = "https://token.actions.githubusercontent.com"
  audience            = ["api://AzureADTokenExchange"]
  subject             = "repo:${var.github_repository}:ref:refs/heads/${var.github_branch}"
}

resource "azurerm_federated_identity_credential" "github_environment" {
  count               = var.github_environment == "" ? 0 : 1
  name                = substr(replace("github-${var.github_repository}-env-${var.github_environment}", "/[^A-Za-z0-9_-]/", "-"), 0, 120)
  resource_group_name = azurerm_resource_group.main.name
  parent_id           = azurerm_user_assigned_identity.github_deploy.id
  issuer              = "https://token.actions.githubusercontent.com"
  audience            = ["api://AzureADTokenExchange"]
  subject             = "repo:${var.github_repository}:environment:${var.github_environment}"
  # Azure refuses concurrent credential writes on one identity.
  depends_on = [azurerm_federated_identity_credential.github_main]
}

resource "azurerm_role_assignment" "github_acr_push" {
  scope                = azurerm_container_registry.main.id
  role_definition_name = "AcrPush"
  principal_id         = azurerm_user_assigned_identity.github_deploy.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "github_web_api" {
  scope                = azurerm_linux_web_app.api.id
  role_definition_name = "Website Contributor"
  principal_id         = azurerm_user_assigned_identity.github_deploy.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "github_web_web" {
  scope                = azurerm_linux_web_app.web.id
  role_definition_name = "Website Contributor"
  principal_id         = azurerm_user_assigned_identity.github_deploy.principal_id
  principal_type       = "ServicePrincipal"
}
