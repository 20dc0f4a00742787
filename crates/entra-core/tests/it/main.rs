#![allow(clippy::unwrap_used, clippy::expect_used)]
//! entra-core's integration tests, one binary.
//!
//! The token core checked against independent readers, on generated input:
//!
//! - [`reader`]: the strict JSON reader against `serde_json` and a scanner of
//!   its own, on JSON text spelled every way ([`json_text`]);
//! - [`segments`]: compact-JWS splitting and parsing, against the `base64`
//!   crate and against each other;
//! - [`dates`]: NumericDate reading from any JSON number text.
//!
//! [`oracle`] holds the differential checks; the fuzz targets in `fuzz/`
//! run the same ones.

mod dates;
mod json_text;
mod oracle;
mod reader;
mod segments;
