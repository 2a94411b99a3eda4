//! The crypto of a whole document: encrypt every value and set a fresh MAC, or decrypt every
//! value and check the MAC.

use super::Error;
use crate::crypto::{
    decrypt_document, encrypt_document, Cipher, CryptoError, DataKey, IvStash, Protection,
};
use crate::metadata::{Metadata, WRITTEN_VERSION};
use crate::tree::{Document, LeafMut, Scalar};
use zeroize::Zeroizing;

/// Encrypts `doc` in place under `data_key` and sets a fresh `lastmodified` and MAC. Values the
/// stash remembers (same path, type and plaintext) keep their IV, hence their ciphertext.
pub(super) fn seal(
    doc: &mut Document,
    meta: &mut Metadata,
    data_key: &DataKey,
    stash: Option<&IvStash>,
) -> Result<(), Error> {
    let selector = meta.rule.selector()?;
    let cipher = Cipher::new(data_key);
    let protection = Protection {
        selector: &selector,
        mac_only_encrypted: meta.mac_only_encrypted,
    };
    let mac = encrypt_document(doc, &cipher, &protection, stash).map_err(Error::Encrypt)?;
    meta.last_modified = crate::compat::rfc3339::now_rfc3339();
    meta.mac = Some(cipher.seal(
        mac.as_bytes(),
        crate::crypto::ValueType::Str,
        &meta.last_modified,
        None,
    ));
    Ok(())
}

/// Decrypts every value in place (remembering IVs in `stash`), checks the MAC unless told not
/// to, and returns how many comments were left in plaintext (files from old sops versions).
pub(super) fn unseal(
    doc: &mut Document,
    meta: &Metadata,
    data_key: &DataKey,
    stash: Option<&IvStash>,
    verify: bool,
) -> Result<usize, Error> {
    let selector = meta.rule.selector()?;
    let cipher = Cipher::new(data_key);
    let protection = Protection {
        selector: &selector,
        mac_only_encrypted: meta.mac_only_encrypted,
    };
    let outcome = decrypt_document(doc, &cipher, &protection, stash).map_err(Error::Decrypt)?;
    if verify {
        verify_mac(&cipher, meta, &outcome.mac)?;
    }
    Ok(outcome.plain_comments)
}

fn verify_mac(cipher: &Cipher, meta: &Metadata, computed: &str) -> Result<(), Error> {
    let stored = meta.mac.as_deref().ok_or(Error::MacMissing)?;
    // sops re-formats lastmodified before using it as the MAC's additional data.
    let aad = crate::compat::rfc3339::normalize_rfc3339(&meta.last_modified)
        .unwrap_or_else(|| meta.last_modified.clone());
    let leaf = cipher
        .decrypt_leaf(stored, &aad, None)
        .map_err(Error::MacUnreadable)?;
    let stored_mac = match leaf {
        LeafMut::Scalar(Scalar::Str(s)) => Zeroizing::new(s),
        _ => {
            return Err(Error::MacUnreadable(CryptoError::BadPlaintext {
                path: "sops.mac".into(),
                kind: "string",
            }))
        }
    };
    if !crate::crypto::Mac::equal(&stored_mac, computed) {
        return Err(Error::MacMismatch);
    }
    Ok(())
}

/// Files written by older sops versions are upgraded to the version rsops writes.
pub(super) fn bump_version(meta: &mut Metadata) {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let core = v.trim_start_matches('v').split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        Some((
            parts.next()??,
            parts.next()??,
            parts.next().flatten().unwrap_or(0),
        ))
    };
    let older = match (parse(&meta.version), parse(WRITTEN_VERSION)) {
        (Some(old), Some(new)) => old < new,
        _ => true,
    };
    if older {
        meta.version = WRITTEN_VERSION.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_older_versions_are_bumped() {
        let mut meta = Metadata {
            version: "3.7.3".into(),
            ..Metadata::default()
        };
        bump_version(&mut meta);
        assert_eq!(meta.version, WRITTEN_VERSION);
        meta.version = "3.99.0".into();
        bump_version(&mut meta);
        assert_eq!(meta.version, "3.99.0");
    }
}
