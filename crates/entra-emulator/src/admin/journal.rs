//! Administrative changes: each one applied to a copy of the directory,
//! checked against the whole of it, appended to the journal in the data
//! directory, then made visible; and the journal replayed at start.
//!
//! The journal holds no password in clear: a user added while there is a
//! data directory has its password replaced by an Argon2id hash
//! ([`PasswordHash`](crate::config::PasswordHash)) before the change is
//! applied or written, and a journal an older version wrote with clear
//! passwords is rewritten with hashes when it is replayed.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{applications, identities, users};
use crate::Error;
use crate::config::{Application, Directory, FederatedIdentityCredential, ManagedIdentity, User};
use crate::error::AdminError;
use crate::state::State;
use crate::store::JsonFile;

/// The journal's file name in the data directory.
const JOURNAL: &str = "admin-journal.json";

/// One administrative change, as journaled (tenants by id).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub(super) enum AdminOp {
    AddUser {
        tenant: String,
        user: Box<User>,
    },
    RemoveUser {
        tenant: String,
        user: String,
    },
    AddApplication {
        tenant: String,
        application: Box<Application>,
    },
    RemoveApplication {
        tenant: String,
        app_id: String,
    },
    AddFederatedCredential {
        tenant: String,
        app_id: String,
        credential: FederatedIdentityCredential,
    },
    RemoveFederatedCredential {
        tenant: String,
        app_id: String,
        name: String,
    },
    AddManagedIdentity {
        tenant: String,
        identity: Box<ManagedIdentity>,
    },
    RemoveManagedIdentity {
        tenant: String,
        client_id: String,
    },
}

impl AdminOp {
    /// The change with any password in clear replaced by its hash; whether
    /// there was one. (A user with both a password and a hash is left for
    /// the directory's check to refuse.)
    fn hashed(self) -> Result<(AdminOp, bool), Error> {
        match self {
            AdminOp::AddUser { tenant, user }
                if !user.password.is_empty() && user.password_hash.is_none() =>
            {
                Ok((
                    AdminOp::AddUser {
                        tenant,
                        user: Box::new(user.with_hashed_password()?),
                    },
                    true,
                ))
            }
            other => Ok((other, false)),
        }
    }

    /// What the change is, for logs (never secrets).
    fn describe(&self) -> String {
        match self {
            AdminOp::AddUser { tenant, user } => {
                format!("add user {} to {tenant}", user.user_principal_name)
            }
            AdminOp::RemoveUser { tenant, user } => format!("remove user {user} from {tenant}"),
            AdminOp::AddApplication {
                tenant,
                application,
            } => format!("add application {} to {tenant}", application.app_id),
            AdminOp::RemoveApplication { tenant, app_id } => {
                format!("remove application {app_id} from {tenant}")
            }
            AdminOp::AddFederatedCredential {
                tenant,
                app_id,
                credential,
            } => format!(
                "add federated identity credential {} to application {app_id} of {tenant}",
                credential.name
            ),
            AdminOp::RemoveFederatedCredential {
                tenant,
                app_id,
                name,
            } => format!(
                "remove federated identity credential {name} from application {app_id} of {tenant}"
            ),
            AdminOp::AddManagedIdentity { tenant, identity } => {
                format!("add managed identity {} to {tenant}", identity.client_id)
            }
            AdminOp::RemoveManagedIdentity { tenant, client_id } => {
                format!("remove managed identity {client_id} from {tenant}")
            }
        }
    }
}

/// The index of the tenant named by id or domain.
pub(super) fn tenant_index(directory: &Directory, name: &str) -> Result<usize, AdminError> {
    directory
        .tenants
        .iter()
        .position(|t| t.tenant_id.eq_ignore_ascii_case(name) || t.domain.eq_ignore_ascii_case(name))
        .ok_or_else(|| AdminError::UnknownTenant {
            tenant: name.to_owned(),
        })
}

/// Applies `op` to `directory` (unchecked); returns the op as journaled.
fn apply(directory: &mut Directory, op: AdminOp) -> Result<AdminOp, AdminError> {
    match op {
        AdminOp::AddUser { tenant, user } => users::apply_add(directory, &tenant, user),
        AdminOp::RemoveUser { tenant, user } => users::apply_remove(directory, &tenant, &user),
        AdminOp::AddApplication {
            tenant,
            application,
        } => applications::apply_add(directory, &tenant, application),
        AdminOp::RemoveApplication { tenant, app_id } => {
            applications::apply_remove(directory, &tenant, &app_id)
        }
        AdminOp::AddFederatedCredential {
            tenant,
            app_id,
            credential,
        } => identities::apply_add_federated(directory, &tenant, &app_id, credential),
        AdminOp::RemoveFederatedCredential {
            tenant,
            app_id,
            name,
        } => identities::apply_remove_federated(directory, &tenant, &app_id, &name),
        AdminOp::AddManagedIdentity { tenant, identity } => {
            identities::apply_add_managed(directory, &tenant, *identity)
        }
        AdminOp::RemoveManagedIdentity { tenant, client_id } => {
            identities::apply_remove_managed(directory, &tenant, &client_id)
        }
    }
}

/// `directory` with `op` applied, if the result is a valid directory.
fn applied(directory: &Directory, op: AdminOp) -> Result<(Directory, AdminOp), AdminError> {
    let mut next = directory.clone();
    let op = apply(&mut next, op)?;
    next.check().map_err(AdminError::InvalidDirectory)?;
    Ok((next, op))
}

/// Applies a change to the running emulator: checked, journaled, then visible.
pub(super) fn change(state: &State, op: AdminOp) -> Result<(), Error> {
    // Hashed before anything else (and before taking the lock: hashing is
    // slow on purpose), so the journal never sees the password.
    let op = match &state.data_dir {
        Some(_) => op.hashed()?.0,
        None => op,
    };
    let mut directory = state.dir_mut();
    let (next, op) = applied(&directory, op)?;
    if let Some(data_dir) = &state.data_dir {
        let journal: JsonFile<Vec<AdminOp>> = JsonFile::load(Some(data_dir), JOURNAL)?;
        journal.update(|ops| ops.push(op.clone()))?;
    }
    *directory = Arc::new(next);
    tracing::info!(change = %op.describe(), "directory changed");
    Ok(())
}

/// Applies the administrative changes recorded in the data directory on top
/// of the configured directory. Changes that no longer apply (the file
/// changed since) are skipped with a warning.
pub(crate) fn apply_journal(
    directory: Directory,
    data_dir: Option<&Path>,
) -> Result<Directory, Error> {
    let Some(data_dir) = data_dir else {
        return Ok(directory);
    };
    let journal: JsonFile<Vec<AdminOp>> = JsonFile::load(Some(data_dir), JOURNAL)?;
    let ops = hash_clear_passwords(&journal)?;
    let mut directory = directory;
    let mut replayed = 0usize;
    for op in ops {
        let what = op.describe();
        match applied(&directory, op) {
            Ok((next, _)) => {
                directory = next;
                replayed += 1;
            }
            Err(reason) => {
                tracing::warn!(change = %what, %reason, "administrative change skipped: it no longer applies");
            }
        }
    }
    if replayed > 0 {
        tracing::info!(replayed, "administrative changes replayed from the journal");
    }
    Ok(directory)
}

/// Rewrites a journal that holds passwords in clear (an older version's)
/// with their hashes; returns its changes.
fn hash_clear_passwords(journal: &JsonFile<Vec<AdminOp>>) -> Result<Vec<AdminOp>, Error> {
    let mut ops = Vec::new();
    let mut hashed = 0usize;
    for op in journal.read(Clone::clone) {
        let (op, was_clear) = op.hashed()?;
        hashed += usize::from(was_clear);
        ops.push(op);
    }
    if hashed > 0 {
        journal.update(|stored| stored.clone_from(&ops))?;
        tracing::info!(
            hashed,
            "passwords in clear in the administration journal replaced by hashes"
        );
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::error::ConfigError;
    use crate::util;

    fn demo() -> Directory {
        Directory::default_demo()
    }

    fn user(upn: &str) -> User {
        User {
            object_id: util::random_guid(),
            user_principal_name: upn.into(),
            password: "pw".into(),
            ..User::default()
        }
    }

    #[test]
    fn changes_are_checked_against_the_whole_directory() {
        let d = demo();
        let tid = d.tenants[0].tenant_id.clone();
        let op = AdminOp::AddUser {
            tenant: "contoso.onmicrosoft.com".into(),
            user: Box::new(user("carol@contoso.onmicrosoft.com")),
        };
        let (next, op) = applied(&d, op).unwrap();
        assert_eq!(next.tenants[0].users.len(), d.tenants[0].users.len() + 1);
        // Journaled with the tenant's id.
        assert!(matches!(op, AdminOp::AddUser { tenant, .. } if tenant == tid));

        let dup = AdminOp::AddUser {
            tenant: tid.clone(),
            user: Box::new(user("ALICE@contoso.onmicrosoft.com")),
        };
        assert!(matches!(
            applied(&d, dup),
            Err(AdminError::UserExists { .. })
        ));

        let mut bad = user("dave@contoso.onmicrosoft.com");
        bad.object_id = "nope".into();
        let bad = AdminOp::AddUser {
            tenant: tid.clone(),
            user: Box::new(bad),
        };
        assert!(matches!(
            applied(&d, bad),
            Err(AdminError::InvalidDirectory(_))
        ));

        // The API is referenced by the other registrations: removing it breaks them.
        let api = d.tenants[0].applications[0].app_id.clone();
        let remove = AdminOp::RemoveApplication {
            tenant: tid.clone(),
            app_id: api,
        };
        assert!(matches!(
            applied(&d, remove),
            Err(AdminError::InvalidDirectory(_))
        ));

        let missing = AdminOp::RemoveUser {
            tenant: tid,
            user: "nobody@contoso.onmicrosoft.com".into(),
        };
        assert!(matches!(
            applied(&d, missing),
            Err(AdminError::UnknownUser { .. })
        ));
    }

    #[test]
    fn identity_changes_are_checked_and_journaled_by_tenant_id() {
        let d = demo();
        let tid = d.tenants[0].tenant_id.clone();
        let daemon = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
        let fic = FederatedIdentityCredential {
            id: None,
            name: "gh".into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "repo:contoso/heroes:ref:refs/heads/main".into(),
            audiences: vec!["api://AzureADTokenExchange".into()],
            description: None,
        };
        let add = AdminOp::AddFederatedCredential {
            tenant: "contoso.onmicrosoft.com".into(),
            app_id: daemon.to_uppercase(),
            credential: fic.clone(),
        };
        let (next, op) = applied(&d, add.clone()).unwrap();
        assert!(
            matches!(&op, AdminOp::AddFederatedCredential { tenant, app_id, .. }
            if *tenant == tid && app_id == daemon)
        );
        let text = serde_json::to_string(&op).unwrap();
        assert!(
            text.starts_with(r#"{"op":"addFederatedCredential""#),
            "{text}"
        );
        assert!(matches!(
            applied(&next, add),
            Err(AdminError::FederatedCredentialExists { .. })
        ));
        let mut bad = fic;
        bad.name = "bad".into();
        bad.issuer = "http://not-loopback.example".into();
        let bad = AdminOp::AddFederatedCredential {
            tenant: tid.clone(),
            app_id: daemon.into(),
            credential: bad,
        };
        assert!(matches!(
            applied(&d, bad),
            Err(AdminError::InvalidDirectory(
                ConfigError::FederatedCredential { .. }
            ))
        ));
        let remove = AdminOp::RemoveManagedIdentity {
            tenant: tid.clone(),
            client_id: "00000000-0000-4000-8000-000000000000".into(),
        };
        assert!(matches!(
            applied(&d, remove),
            Err(AdminError::UnknownManagedIdentity { .. })
        ));
        let system = d.tenants[0].managed_identities[0].client_id.clone();
        let (next, _) = applied(
            &d,
            AdminOp::RemoveManagedIdentity {
                tenant: tid,
                client_id: system,
            },
        )
        .unwrap();
        assert_eq!(next.tenants[0].managed_identities.len(), 1);
    }

    #[test]
    fn journal_entries_round_trip() {
        let op = AdminOp::RemoveApplication {
            tenant: "t".into(),
            app_id: "a".into(),
        };
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(
            text,
            r#"{"op":"removeApplication","tenant":"t","appId":"a"}"#
        );
        let back: AdminOp = serde_json::from_str(&text).unwrap();
        assert_eq!(back.describe(), op.describe());
    }
}
