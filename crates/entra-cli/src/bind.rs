//! The address the servers listen on: each command's own `--bind` (or its
//! variable: `API_BIND`, `WEB_BIND`, `ENTRA_EMULATOR_BIND`), else
//! `ENTRA_BIND`, else `127.0.0.1`.
//!
//! `ENTRA_BIND` is for containers: the image sets `ENTRA_BIND=0.0.0.0` so
//! that every command is reachable through the container's published ports,
//! while the binary itself keeps listening on loopback unless told otherwise.

use std::net::{IpAddr, Ipv4Addr};

use crate::Failure;

/// The variable every server command falls back on.
pub(crate) const ENTRA_BIND: &str = "ENTRA_BIND";

/// `own` (the command's `--bind` or its variable), else `ENTRA_BIND`, else
/// `127.0.0.1`.
pub(crate) fn address(own: Option<IpAddr>) -> Result<IpAddr, Failure> {
    if let Some(own) = own {
        return Ok(own);
    }
    match std::env::var(ENTRA_BIND) {
        Ok(value) if !value.trim().is_empty() => parse(&value),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::Misconfigured(format!(
            "{ENTRA_BIND} is not an IP address (e.g. 0.0.0.0 or 127.0.0.1)"
        ))),
    }
}

fn parse(value: &str) -> Result<IpAddr, Failure> {
    value.trim().parse().map_err(|_| {
        Failure::Misconfigured(format!(
            "{ENTRA_BIND} {value:?} is not an IP address (e.g. 0.0.0.0 or 127.0.0.1)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_are_explained() {
        assert!(matches!(parse(" 0.0.0.0 "), Ok(a) if a == IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        assert!(matches!(parse("::"), Ok(a) if a.is_unspecified()));
        assert!(
            matches!(parse("localhost"), Err(Failure::Misconfigured(m)) if m.contains("ENTRA_BIND"))
        );
        let own = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        assert!(matches!(address(Some(own)), Ok(a) if a == own));
    }
}
