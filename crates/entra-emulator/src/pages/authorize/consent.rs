//! The consent policy: which delegated scopes a request wants from each
//! resource, which of them the user has not consented to yet, whether the
//! user may consent at all (admin-only scopes, `prompt=none`), and recording
//! a consent given.

use super::request::{AuthRequest, Prompt};
use crate::Error;
use crate::config::Application;
use crate::error::OAuthError;
use crate::scopes;
use crate::state::{ConsentStore, State as Shared};

/// Delegated scopes of one resource: what the request wants, and what the
/// user has not consented to yet.
#[derive(Debug)]
pub(super) struct Needed {
    pub(super) resource: Application,
    pub(super) wanted: Vec<String>,
    pub(super) missing: Vec<String>,
}

fn consent_plan(state: &Shared, req: &AuthRequest, user_id: &str) -> Vec<Needed> {
    let mut plan: Vec<Needed> = Vec::new();
    for scope in &req.requested.resource {
        if plan.iter().any(|n| {
            n.resource
                .app_id
                .eq_ignore_ascii_case(&scope.resource_app_id)
        }) {
            continue;
        }
        let Some(resource) = state.dir().application(&scope.resource_app_id).cloned() else {
            continue;
        };
        let mut wanted: Vec<String> = Vec::new();
        for asked in req
            .requested
            .resource
            .iter()
            .filter(|s| s.resource_app_id == scope.resource_app_id)
        {
            if asked.value == ".default" {
                wanted.extend(
                    req.client
                        .required_resource_access
                        .iter()
                        .filter(|a| a.resource_app_id.eq_ignore_ascii_case(&resource.app_id))
                        .flat_map(|a| a.scopes.iter().cloned()),
                );
            } else {
                wanted.push(asked.value.clone());
            }
        }
        wanted.sort();
        wanted.dedup();
        let consented = scopes::consented(state, &req.tenant, &req.client, user_id, &resource);
        let missing = wanted
            .iter()
            .filter(|w| !consented.contains(w))
            .cloned()
            .collect();
        plan.push(Needed {
            resource,
            wanted,
            missing,
        });
    }
    plan
}

/// What the consent policy says about a signed-in user's request.
#[derive(Debug)]
pub(super) enum Verdict {
    /// Everything asked for is consented: a code can be issued.
    Granted,
    /// The user is asked, on the consent page, for this plan.
    Ask(Vec<Needed>),
    /// Refused (admin-only scopes, or consent needed under `prompt=none`):
    /// the error goes back to the client.
    Refused(OAuthError),
}

/// Whether `user_id` may have a code for `req` now, must be asked, or is refused.
pub(super) fn verdict(state: &Shared, req: &AuthRequest, user_id: &str) -> Verdict {
    let plan = consent_plan(state, req, user_id);
    let missing = plan.iter().any(|n| !n.missing.is_empty());
    if !missing && req.prompt != Some(Prompt::Consent) {
        return Verdict::Granted;
    }
    let admin_only = plan.iter().find_map(|n| {
        n.missing.iter().find(|m| {
            n.resource
                .oauth2_permission_scopes
                .iter()
                .any(|p| &p.value == *m && p.r#type.eq_ignore_ascii_case("Admin"))
        })
    });
    if let Some(scope) = admin_only {
        return Verdict::Refused(OAuthError::new(
            "consent_required",
            90_094,
            format!(
                "The grant requires admin permission: {scope} needs an administrator's consent."
            ),
        ));
    }
    if req.prompt == Some(Prompt::None) {
        return Verdict::Refused(OAuthError::new(
            "consent_required",
            65_001,
            format!(
                "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource.",
                req.client.app_id, req.client.display_name
            ),
        ));
    }
    Verdict::Ask(plan)
}

/// Records that `user_id` consented to everything `req` wants.
pub(super) fn record(state: &Shared, req: &AuthRequest, user_id: &str) -> Result<(), Error> {
    let plan = consent_plan(state, req, user_id);
    state.consents.update(|store| {
        for needed in &plan {
            let key = ConsentStore::key(
                &req.tenant.tenant_id,
                user_id,
                &req.client.app_id,
                &needed.resource.app_id,
            );
            store
                .grants
                .entry(key)
                .or_default()
                .extend(needed.wanted.iter().cloned());
        }
    })
}
