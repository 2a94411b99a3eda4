//! A transit key URI split as sops splits it; outside the client so that a build without the
//! `hc-vault` feature can still name Vault keys to a remote key service.

use crate::keys::KeyError;
use std::sync::OnceLock;

const BACKEND: &str = super::TYPE_ID;

fn invalid(uri: &str, reason: &str) -> KeyError {
    KeyError::Invalid {
        backend: BACKEND,
        key: uri.to_string(),
        reason: reason.to_string(),
    }
}

/// `(address, engine_path, key_name)` from a transit key URI.
pub fn parse_uri(uri: &str) -> Result<(String, String, String), KeyError> {
    let uri = uri.trim();
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| {
        invalid(
            uri,
            "missing scheme in Vault URL (should be like https://vault.example.com:8200/v1/transit/keys/keyName)",
        )
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    static PREFIXED: OnceLock<regex::Regex> = OnceLock::new();
    static PLAIN: OnceLock<regex::Regex> = OnceLock::new();
    let prefixed = PREFIXED
        .get_or_init(|| regex::Regex::new(r"/[^/]+/v[\d]+/[^/]+/[^/]+/[^/]+").expect("regex"));
    let plain =
        PLAIN.get_or_init(|| regex::Regex::new(r"/v[\d]+/[^/]+/[^/]+/[^/]+").expect("regex"));
    if prefixed.is_match(path) {
        return Err(invalid(
            uri,
            "running Vault with a prefixed URL is not supported (use https://vault.example.com:8200/v1/transit/keys/keyName)",
        ));
    }
    if !plain.is_match(path) {
        return Err(invalid(
            uri,
            "the path is not like https://vault.example.com:8200/v1/transit/keys/keyName",
        ));
    }
    let dirs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let key_name = dirs[dirs.len() - 1].to_string();
    let engine_path = dirs[1..dirs.len() - 2]
        .iter()
        .filter(|d| !d.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    Ok((format!("{scheme}://{authority}"), engine_path, key_name))
}
