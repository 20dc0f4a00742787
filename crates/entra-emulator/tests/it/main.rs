//! entra-emulator's integration tests: one binary for the crate, one module
//! per subject (each module was a test binary of its own before; linking
//! that many binaries took more disk than CI has). `common` holds the shared
//! helpers, `browser` a scripted browser for the emulator's pages, and
//! `clients` runs MSAL Python and MSAL Node (its scripts sit beside it).

mod admin;
mod authorization_code;
mod azure_identity_node;
mod azure_identity_python;
mod browser;
mod client_assertion;
mod client_credentials;
mod clients;
mod common;
mod device_code;
mod finding_10;
mod finding_11;
mod finding_6;
mod finding_8;
mod finding_9;
mod home_chromium;
mod home_page;
mod library;
mod managed_identity;
mod metrics;
mod msal_node;
mod msal_python;
mod on_behalf_of;
mod openidconnect_client;
mod password;
mod refresh_token;
mod request_log;
mod restart;
mod sign_in_pages;
mod terraform_directory;
mod token_versions;
mod workload_identity;
