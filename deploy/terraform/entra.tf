# Microsoft Entra ID: the demo directory's five app registrations, their
# service principals, admin consent and app-role assignments.
#
# This mirrors the emulator's built-in directory,
# crates/entra-emulator/default.toml, registration by registration: the same
# scopes, app roles, platforms, redirect URI paths and permissions. The
# entra-emulator test `terraform_directory` (crates/entra-emulator/tests/it/
# terraform_directory.rs) parses both and fails when they disagree: change
# one, change the other.

data "azuread_client_config" "current" {}

locals {
  # The emulator gives each app a fixed app id; Entra assigns real ones here.
  # Which registration stands for which emulator app (the test checks it):
  emulator_app_ids = {
    heroes_api = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
    heroes_web = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10"
    swagger_ui = "b9c8d7e6-5f4a-4b3c-8d2e-1f0a9b8c7d6e"
    daemon     = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f"
    cli        = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6"
  }

  # Where browsers reach the two web apps. Computed from their names, not
  # read from the web apps: their settings need these registrations' ids.
  api_public_url = "https://${local.api_app_name}.azurewebsites.net"
  web_public_url = "https://${local.web_app_name}.azurewebsites.net"

  owners = [data.azuread_client_config.current.object_id]
}

# Stable ids of the API's delegated scopes and of its app roles.
resource "random_uuid" "heroes_scope" {
  for_each = toset(["Heroes.Read", "Heroes.Write", "Heroes.Delete"])
}

resource "random_uuid" "heroes_role" {
  for_each = toset(["Admin", "User", "Heroes.Read", "Heroes.Write", "Heroes.Delete"])
}

# --- The protected API: heroes and todo items -------------------------------
resource "azuread_application" "heroes_api" {
  display_name            = "Heroes API"
  sign_in_audience        = "AzureADMyOrg"
  owners                  = local.owners
  group_membership_claims = ["SecurityGroup"]

  api {
    requested_access_token_version = 2

    oauth2_permission_scope {
      value                      = "Heroes.Read"
      id                         = random_uuid.heroes_scope["Heroes.Read"].result
      type                       = "User"
      admin_consent_display_name = "Read heroes"
      admin_consent_description  = "List and view heroes"
      user_consent_display_name  = "Read heroes"
      user_consent_description   = "List and view heroes"
      enabled                    = true
    }
    oauth2_permission_scope {
      value                      = "Heroes.Write"
      id                         = random_uuid.heroes_scope["Heroes.Write"].result
      type                       = "User"
      admin_consent_display_name = "Create heroes"
      admin_consent_description  = "Create heroes"
      user_consent_display_name  = "Create heroes"
      user_consent_description   = "Create heroes"
      enabled                    = true
    }
    oauth2_permission_scope {
      value                      = "Heroes.Delete"
      id                         = random_uuid.heroes_scope["Heroes.Delete"].result
      type                       = "User"
      admin_consent_display_name = "Delete heroes"
      admin_consent_description  = "Delete heroes"
      user_consent_display_name  = "Delete heroes"
      user_consent_description   = "Delete heroes"
      enabled                    = true
    }
  }

  app_role {
    value                = "Admin"
    id                   = random_uuid.heroes_role["Admin"].result
    allowed_member_types = ["User"]
    display_name         = "Administrator: sees and deletes every todo item"
    description          = "Administrator: sees and deletes every todo item"
    enabled              = true
  }
  app_role {
    value                = "User"
    id                   = random_uuid.heroes_role["User"].result
    allowed_member_types = ["User"]
    display_name         = "User: manages their own todo items"
    description          = "User: manages their own todo items"
    enabled              = true
  }
  app_role {
    value                = "Heroes.Read"
    id                   = random_uuid.heroes_role["Heroes.Read"].result
    allowed_member_types = ["Application"]
    display_name         = "Read heroes (daemon)"
    description          = "Read heroes (daemon)"
    enabled              = true
  }
  app_role {
    value                = "Heroes.Write"
    id                   = random_uuid.heroes_role["Heroes.Write"].result
    allowed_member_types = ["Application"]
    display_name         = "Create heroes (daemon)"
    description          = "Create heroes (daemon)"
    enabled              = true
  }
  app_role {
    value                = "Heroes.Delete"
    id                   = random_uuid.heroes_role["Heroes.Delete"].result
    allowed_member_types = ["Application"]
    display_name         = "Delete heroes (daemon)"
    description          = "Delete heroes (daemon)"
    enabled              = true
  }

  # The identifier URI names the client id, which exists only once the
  # application does: azuread_application_identifier_uri sets it.
  lifecycle {
    ignore_changes = [identifier_uris]
  }
}

resource "azuread_application_identifier_uri" "heroes_api" {
  application_id = azuread_application.heroes_api.id
  identifier_uri = "api://${azuread_application.heroes_api.client_id}"
}

# --- The web app (confidential client) ---------------------------------------
resource "azuread_application" "heroes_web" {
  display_name     = "Heroes Web"
  sign_in_audience = "AzureADMyOrg"
  owners           = local.owners

  web {
    redirect_uris = ["${local.web_public_url}/auth/callback"]
    logout_url    = "${local.web_public_url}/"
    implicit_grant {
      access_token_issuance_enabled = false
      id_token_issuance_enabled     = false
    }
  }

  # Users consent on first sign-in: no admin grant below.
  required_resource_access {
    resource_app_id = azuread_application.heroes_api.client_id
    resource_access {
      id   = random_uuid.heroes_scope["Heroes.Read"].result
      type = "Scope"
    }
    resource_access {
      id   = random_uuid.heroes_scope["Heroes.Write"].result
      type = "Scope"
    }
    resource_access {
      id   = random_uuid.heroes_scope["Heroes.Delete"].result
      type = "Scope"
    }
  }
}

# --- Swagger UI of the API (single-page application, PKCE) ------------------
resource "azuread_application" "swagger_ui" {
  display_name     = "Heroes API Swagger UI"
  sign_in_audience = "AzureADMyOrg"
  owners           = local.owners

  spa {
    redirect_uris = [
      "${local.api_public_url}/docs/oauth2-redirect.html",
      "${local.web_public_url}/oauth2-redirect",
    ]
  }

  required_resource_access {
    resource_app_id = azuread_application.heroes_api.client_id
    resource_access {
      id   = random_uuid.heroes_scope["Heroes.Read"].result
      type = "Scope"
    }
    resource_access {
      id   = random_uuid.heroes_scope["Heroes.Write"].result
      type = "Scope"
    }
    resource_access {
      id   = random_uuid.heroes_scope["Heroes.Delete"].result
      type = "Scope"
    }
  }
}

# --- A daemon (client credentials, application permissions) -----------------
resource "azuread_application" "daemon" {
  display_name     = "Heroes Daemon"
  sign_in_audience = "AzureADMyOrg"
  owners           = local.owners

  required_resource_access {
    resource_app_id = azuread_application.heroes_api.client_id
    resource_access {
      id   = random_uuid.heroes_role["Heroes.Read"].result
      type = "Role"
    }
    resource_access {
      id   = random_uuid.heroes_role["Heroes.Write"].result
      type = "Role"
    }
    resource_access {
      id   = random_uuid.heroes_role["Heroes.Delete"].result
      type = "Role"
    }
  }
}

# --- The `entra` CLI (public client: device code) ---------------------------
resource "azuread_application" "cli" {
  display_name                   = "Entra CLI"
  sign_in_audience               = "AzureADMyOrg"
  owners                         = local.owners
  fallback_public_client_enabled = true

  public_client {
    redirect_uris = ["http://localhost"]
  }

  required_resource_access {
    resource_app_id = azuread_application.heroes_api.client_id
    resource_access {
      id   = random_uuid.heroes_scope["Heroes.Read"].result
      type = "Scope"
    }
    resource_access {
      id   = random_uuid.heroes_scope["Heroes.Write"].result
      type = "Scope"
    }
    resource_access {
      id   = random_uuid.heroes_scope["Heroes.Delete"].result
      type = "Scope"
    }
  }
}

# --- Service principals (enterprise applications) ---------------------------
resource "azuread_service_principal" "heroes_api" {
  client_id = azuread_application.heroes_api.client_id
  owners    = local.owners
  # Every signed-in user may call the API; what they may do is in their roles.
  app_role_assignment_required = false
}

resource "azuread_service_principal" "heroes_web" {
  client_id = azuread_application.heroes_web.client_id
  owners    = local.owners
}

resource "azuread_service_principal" "swagger_ui" {
  client_id = azuread_application.swagger_ui.client_id
  owners    = local.owners
}

resource "azuread_service_principal" "daemon" {
  client_id = azuread_application.daemon.client_id
  owners    = local.owners
}

resource "azuread_service_principal" "cli" {
  client_id = azuread_application.cli.client_id
  owners    = local.owners
}

# --- Admin consent ----------------------------------------------------------
# Delegated: Swagger UI and the CLI are consented for every user (the
# emulator's adminConsented = true); the web app is not (users consent).
resource "azuread_service_principal_delegated_permission_grant" "swagger_ui" {
  service_principal_object_id          = azuread_service_principal.swagger_ui.object_id
  resource_service_principal_object_id = azuread_service_principal.heroes_api.object_id
  claim_values                         = ["Heroes.Read", "Heroes.Write", "Heroes.Delete"]
}

resource "azuread_service_principal_delegated_permission_grant" "cli" {
  service_principal_object_id          = azuread_service_principal.cli.object_id
  resource_service_principal_object_id = azuread_service_principal.heroes_api.object_id
  claim_values                         = ["Heroes.Read", "Heroes.Write", "Heroes.Delete"]
}

# Application permissions of the daemon: an app-role assignment each.
resource "azuread_app_role_assignment" "daemon" {
  for_each            = toset(["Heroes.Read", "Heroes.Write", "Heroes.Delete"])
  app_role_id         = azuread_service_principal.heroes_api.app_role_ids[each.key]
  principal_object_id = azuread_service_principal.daemon.object_id
  resource_object_id  = azuread_service_principal.heroes_api.object_id
}

# --- Users' app roles (the emulator's alice: Admin and User; bob: User) -----
resource "azuread_app_role_assignment" "admin" {
  for_each            = toset(["Admin", "User"])
  app_role_id         = azuread_service_principal.heroes_api.app_role_ids[each.key]
  principal_object_id = var.admin_principal_object_id
  resource_object_id  = azuread_service_principal.heroes_api.object_id
}

resource "azuread_app_role_assignment" "users" {
  for_each            = toset(var.user_principal_object_ids)
  app_role_id         = azuread_service_principal.heroes_api.app_role_ids["User"]
  principal_object_id = each.value
  resource_object_id  = azuread_service_principal.heroes_api.object_id
}

# --- Client secrets, rotated; kept in Key Vault only -------------------------
resource "time_rotating" "client_secrets" {
  rotation_days = var.client_secret_rotation_days
}

locals {
  # A secret stays valid 30 days past its rotation date, so that a rotation
  # (the next apply after it) never races running instances.
  client_secret_end_date = timeadd(time_rotating.client_secrets.rotation_rfc3339, "720h")
}

locals {
  # web_credential: the managed identity as federated credential, or a secret.
  web_uses_secret = var.web_credential == "secret"
}

# Only with web_credential = "secret".
resource "azuread_application_password" "heroes_web" {
  count               = local.web_uses_secret ? 1 : 0
  application_id      = azuread_application.heroes_web.id
  display_name        = "App Service (Key Vault)"
  end_date            = local.client_secret_end_date
  rotate_when_changed = { rotation = time_rotating.client_secrets.id }
}

resource "azuread_application_password" "daemon" {
  application_id      = azuread_application.daemon.id
  display_name        = "Daemon (Key Vault)"
  end_date            = local.client_secret_end_date
  rotate_when_changed = { rotation = time_rotating.client_secrets.id }
}

# --- Heroes Web's federated credential: the apps' managed identity -----------
# With web_credential = "federated" (the default), Heroes Web trusts the
# user-assigned identity the web app runs as: `entra web
# --managed-identity-assertion` gets that identity's token for
# api://AzureADTokenExchange from App Service (IDENTITY_ENDPOINT) and sends it
# as its client assertion. No web secret exists.
resource "azuread_application_federated_identity_credential" "heroes_web" {
  #checkov:skip=CKV_AZURE_249:Not a GitHub Actions trust: the issuer is the tenant itself (a managed identity's token), and the subject is exactly one identity's principal id (a GUID, no wildcard), not a repo:OWNER/REPO claim.
  count          = local.web_uses_secret ? 0 : 1
  application_id = azuread_application.heroes_web.id
  display_name   = "app-service-managed-identity"
  description    = "The web app's user-assigned managed identity (entra web --managed-identity-assertion)."
  audiences      = ["api://AzureADTokenExchange"]
  issuer         = "https://login.microsoftonline.com/${var.tenant_id}/v2.0"
  subject        = azurerm_user_assigned_identity.apps.principal_id
}
