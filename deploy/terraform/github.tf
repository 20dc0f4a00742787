# The deploy workflow (.github/workflows/deploy.yml) logs in to Azure from
# GitHub Actions with OpenID Connect (azure/login): no secret is stored in
# GitHub. It is a user-assigned managed identity with a federated credential
# that trusts GitHub's tokens for one repository and one branch only, and
# may only push images and update the two web apps.
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
  name                = "github-${replace(var.github_repository, "/", "-")}-${replace(var.github_branch, "/", "-")}"
  resource_group_name = azurerm_resource_group.main.name
  parent_id           = azurerm_user_assigned_identity.github_deploy.id
  issuer              = "https://token.actions.githubusercontent.com"
  audience            = ["api://AzureADTokenExchange"]
  subject             = "repo:${var.github_repository}:ref:refs/heads/${var.github_branch}"
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
