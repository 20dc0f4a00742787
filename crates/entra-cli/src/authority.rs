//! Checks shared by the commands that talk to an authority: the authority
//! host (`https`, or plain `http` on a loopback host, the local emulator) and
//! application ids (GUIDs).

use crate::Failure;

/// Checks `--authority-host`: `https`, or `http` on a loopback host. Returns
/// whether it is a loopback host (the local emulator, whose demo secrets may
/// then be used as defaults).
pub(crate) fn check_authority(host: &str) -> Result<bool, Failure> {
    let bad = |why: &str| {
        Failure::Misconfigured(format!(
            "--authority-host {host:?} {why} (AZURE_AUTHORITY_HOST: https://login.microsoftonline.com for Entra ID, http://localhost:9000 for the emulator)"
        ))
    };
    let url = url::Url::parse(host.trim()).map_err(|_| bad("is not a URL"))?;
    if url.host().is_none() {
        return Err(bad("has no host"));
    }
    match entra_core::authority::check_scheme(&url, false) {
        Ok(()) => Ok(entra_core::authority::is_loopback(&url)),
        Err(entra_core::authority::InsecureUrl::PlainHttp(_)) => Err(bad(
            "is plain http on a host that is not loopback: use https",
        )),
        Err(_) => Err(bad("must be an https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_loopback_only() {
        assert!(matches!(
            check_authority("https://login.microsoftonline.com"),
            Ok(false)
        ));
        assert!(matches!(check_authority("http://localhost:9000"), Ok(true)));
        assert!(matches!(check_authority("http://127.0.0.1:9000"), Ok(true)));
        assert!(matches!(check_authority("http://[::1]:9000"), Ok(true)));
        assert!(matches!(
            check_authority("https://localhost:9443"),
            Ok(true)
        ));
        assert!(check_authority("http://login.example.com").is_err());
        assert!(check_authority("ftp://localhost").is_err());
        assert!(check_authority("localhost:9000").is_err());
        assert!(check_authority("nope").is_err());
    }
}
