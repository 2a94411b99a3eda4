//! Rendering without keys (helm-secrets#678): an encrypted file's plaintext shape with every
//! encrypted value replaced by a placeholder of its own type, so a chart can be linted or its
//! manifests diffed in CI where no key exists (or where no key should be).
//!
//! No key is asked for and nothing is decrypted: the placeholders come from the `type:` tag each
//! `ENC[…]` value carries in the clear. Values the file keeps plain (`_unencrypted` and the
//! like) stay as they are, as does the structure.

use super::Error;
use crate::crypto::{EncValue, ValueType};
use crate::file;
use crate::stores::{store_for, Format, StoreOptions};
use crate::tree::{walk_leaves_mut, LeafMut, Scalar, Selector};
use std::path::Path;
use zeroize::Zeroizing;

/// What an encrypted string shows when it is not decrypted.
pub const PLACEHOLDER: &str = "REDACTED";

/// `bytes` (an encrypted file in `format`) emitted in `output` with every encrypted value
/// replaced: strings (and bytes and comments) by [`PLACEHOLDER`], numbers by 0, booleans by
/// false, times by the Unix epoch.
pub fn redacted_plaintext(
    path: &Path,
    bytes: &[u8],
    format: Format,
    output: Format,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let options = StoreOptions::default();
    let failed = |e| Error::Decrypt {
        path: path.to_path_buf(),
        source: file::Error::Store(e),
    };
    let (mut doc, _) = store_for(format, options)
        .load_encrypted(bytes)
        .map_err(failed)?;
    let replaced: Result<(), std::convert::Infallible> =
        walk_leaves_mut(&mut doc, &Selector::default(), |_, leaf| {
            Ok(placeholder(leaf))
        });
    if let Err(never) = replaced {
        match never {}
    }
    let text = store_for(output, options)
        .emit_plain(&doc)
        .map_err(failed)?;
    Ok(Zeroizing::new(text))
}

/// The placeholder for one leaf, or the leaf itself when it is not encrypted.
fn placeholder(leaf: LeafMut) -> LeafMut {
    let text = match &leaf {
        LeafMut::Scalar(Scalar::Str(s)) | LeafMut::Comment(s) => s.trim_start(),
        _ => return leaf,
    };
    if !EncValue::looks_encrypted(text) {
        return leaf;
    }
    let value_type = EncValue::parse(text)
        .ok()
        .and_then(|v| ValueType::parse(&v.value_type));
    match value_type {
        Some(ValueType::Int) => LeafMut::Scalar(Scalar::Int(0)),
        Some(ValueType::Float) => LeafMut::Scalar(Scalar::Float(0.0)),
        Some(ValueType::Bool) => LeafMut::Scalar(Scalar::Bool(false)),
        Some(ValueType::Time) => LeafMut::Scalar(Scalar::Time("1970-01-01T00:00:00Z".into())),
        Some(ValueType::LocalTime) => LeafMut::Scalar(Scalar::Time("1970-01-01T00:00:00".into())),
        Some(ValueType::Comment) => LeafMut::Comment(format!(" {PLACEHOLDER}")),
        Some(ValueType::Str | ValueType::Bytes) | None => {
            LeafMut::Scalar(Scalar::Str(PLACEHOLDER.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
name: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
port: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:int]
ratio: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:float]
on: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:bool]
list:
    - ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
host_unencrypted: db.internal
sops:
    age:
        - recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            -----END AGE ENCRYPTED FILE-----
    lastmodified: \"2026-01-01T00:00:00Z\"
    mac: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
    unencrypted_suffix: _unencrypted
    version: 3.11.0
";

    #[test]
    fn every_encrypted_value_gets_a_placeholder_of_its_type() {
        let out = redacted_plaintext(
            Path::new("s.yaml"),
            FILE.as_bytes(),
            Format::Yaml,
            Format::Yaml,
        )
        .unwrap();
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert_eq!(
            text,
            "name: REDACTED\nport: 0\nratio: 0\n\"on\": false\nlist:\n    - REDACTED\nhost_unencrypted: db.internal\n"
        );
    }
}
