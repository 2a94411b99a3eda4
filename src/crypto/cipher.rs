//! AES-256-GCM with sops's 32-byte nonces, and the conversion between typed leaves and plaintext.

use super::enc_value::{EncValue, EncValueError, ValueType};
use super::go_format::{format_float_f, parse_go_bool, parse_go_float};
use super::DataKey;
use crate::tree::{LeafMut, Scalar};
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce, Tag};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use zeroize::Zeroizing;

type SopsGcm = AesGcm<Aes256, U32>;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("could not decrypt a value at `{path}`: it does not authenticate with this data key (AES-GCM tag mismatch); the file was tampered with or the value was moved")]
    Authentication { path: String },
    #[error("the value at `{path}` is not a valid encrypted value: {source}")]
    Malformed {
        path: String,
        #[source]
        source: EncValueError,
    },
    #[error("the value at `{path}` has the unknown type tag `{tag}`")]
    UnknownType { path: String, tag: String },
    #[error("the value at `{path}` decrypted, but its plaintext is not a valid {kind}")]
    BadPlaintext { path: String, kind: &'static str },
    #[error("the value at `{path}` has a type sops cannot encrypt ({kind})")]
    Unencryptable { path: String, kind: &'static str },
}

/// Remembers the IV each (path, type, plaintext) had when it was decrypted, so re-encrypting an
/// unchanged value reproduces its ciphertext and a one-value edit is a one-line diff.
/// Keyed by a hash, so the stash itself holds no plaintext.
#[derive(Default)]
pub struct IvStash {
    ivs: Mutex<HashMap<[u8; 32], Vec<u8>>>,
}

impl IvStash {
    fn key(aad: &str, value_type: ValueType, plaintext: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((aad.len() as u64).to_le_bytes());
        h.update(aad.as_bytes());
        h.update(value_type.as_str().as_bytes());
        h.update([0]);
        h.update(plaintext);
        h.finalize().into()
    }

    fn remember(&self, aad: &str, value_type: ValueType, plaintext: &[u8], iv: &[u8]) {
        let key = Self::key(aad, value_type, plaintext);
        self.ivs
            .lock()
            .expect("iv stash lock")
            .insert(key, iv.to_vec());
    }

    fn recall(&self, aad: &str, value_type: ValueType, plaintext: &[u8]) -> Option<Vec<u8>> {
        let key = Self::key(aad, value_type, plaintext);
        self.ivs.lock().expect("iv stash lock").get(&key).cloned()
    }
}

/// One AES key schedule for a whole file.
pub struct Cipher {
    aead: SopsGcm,
}

fn path_of(aad: &str) -> String {
    let trimmed = aad.strip_suffix(':').unwrap_or(aad);
    if trimmed.is_empty() {
        "(top level)".to_string()
    } else {
        trimmed.to_string()
    }
}

impl Cipher {
    pub fn new(key: &DataKey) -> Cipher {
        Cipher {
            aead: SopsGcm::new(key.as_bytes().into()),
        }
    }

    /// Seals raw bytes. `iv` reuses a remembered nonce; otherwise a fresh random one is drawn.
    pub fn seal(
        &self,
        plaintext: &[u8],
        value_type: ValueType,
        aad: &str,
        iv: Option<Vec<u8>>,
    ) -> String {
        let iv = iv.filter(|iv| iv.len() == 32).unwrap_or_else(|| {
            let mut fresh = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut fresh);
            fresh
        });
        let mut buffer = Zeroizing::new(plaintext.to_vec());
        let tag = self
            .aead
            .encrypt_in_place_detached(Nonce::<U32>::from_slice(&iv), aad.as_bytes(), &mut buffer)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        EncValue {
            data: buffer.to_vec(),
            iv,
            tag: tag.to_vec(),
            value_type: value_type.as_str().to_string(),
        }
        .to_string_form()
    }

    /// Opens an `ENC[…]` string. Any IV length is accepted, as Go does on decryption; the only
    /// nonce size this cipher instance supports natively is 32, others get their own instance.
    pub fn open(
        &self,
        text: &str,
        aad: &str,
    ) -> Result<(Zeroizing<Vec<u8>>, EncValue), CryptoError> {
        let value = EncValue::parse(text).map_err(|source| CryptoError::Malformed {
            path: path_of(aad),
            source,
        })?;
        if value.tag.len() != 16 {
            return Err(CryptoError::Authentication { path: path_of(aad) });
        }
        let mut buffer = Zeroizing::new(value.data.clone());
        let tag = Tag::from_slice(&value.tag);
        let result = if value.iv.len() == 32 {
            self.aead.decrypt_in_place_detached(
                Nonce::<U32>::from_slice(&value.iv),
                aad.as_bytes(),
                &mut buffer,
                tag,
            )
        } else {
            Err(aes_gcm::Error)
        };
        result.map_err(|_| CryptoError::Authentication { path: path_of(aad) })?;
        Ok((buffer, value))
    }

    /// Encrypts one typed leaf the way sops's `Cipher.Encrypt` does. Empty strings and empty
    /// comments stay empty (sops never encrypts them).
    pub fn encrypt_leaf(
        &self,
        leaf: LeafMut,
        aad: &str,
        stash: Option<&IvStash>,
    ) -> Result<String, CryptoError> {
        let (plaintext, value_type) = leaf_plaintext(&leaf, aad)?;
        if plaintext.is_empty() && matches!(value_type, ValueType::Str | ValueType::Comment) {
            return Ok(String::new());
        }
        let iv = stash.and_then(|s| s.recall(aad, value_type, &plaintext));
        Ok(self.seal(&plaintext, value_type, aad, iv))
    }

    /// Decrypts one `ENC[…]` string into a typed leaf, remembering its IV in `stash`.
    pub fn decrypt_leaf(
        &self,
        text: &str,
        aad: &str,
        stash: Option<&IvStash>,
    ) -> Result<LeafMut, CryptoError> {
        if text.is_empty() {
            return Ok(LeafMut::Scalar(Scalar::Str(String::new())));
        }
        let (plaintext, value) = self.open(text, aad)?;
        let value_type =
            ValueType::parse(&value.value_type).ok_or_else(|| CryptoError::UnknownType {
                path: path_of(aad),
                tag: value.value_type.clone(),
            })?;
        let leaf = typed_leaf(plaintext, value_type, aad)?;
        if let Some(stash) = stash {
            stash.remember(aad, value_type, &leaf_plaintext(&leaf, aad)?.0, &value.iv);
        }
        Ok(leaf)
    }
}

/// The bytes sops encrypts and hashes for a value (`sops.ToBytes`), and its type tag.
pub fn leaf_plaintext(
    leaf: &LeafMut,
    aad: &str,
) -> Result<(Zeroizing<Vec<u8>>, ValueType), CryptoError> {
    let (bytes, t) = match leaf {
        LeafMut::Comment(c) => (c.as_bytes().to_vec(), ValueType::Comment),
        LeafMut::Scalar(s) => match s {
            Scalar::Str(s) => (s.as_bytes().to_vec(), ValueType::Str),
            Scalar::Bytes(b) => (b.clone(), ValueType::Str),
            Scalar::Int(i) => (i.to_string().into_bytes(), ValueType::Int),
            Scalar::Float(f) => (format_float_f(*f).into_bytes(), ValueType::Float),
            Scalar::Bool(b) => (
                if *b {
                    b"True".to_vec()
                } else {
                    b"False".to_vec()
                },
                ValueType::Bool,
            ),
            Scalar::Time(t) => (t.as_bytes().to_vec(), ValueType::Time),
            Scalar::Null => {
                return Err(CryptoError::Unencryptable {
                    path: path_of(aad),
                    kind: "null",
                })
            }
        },
    };
    Ok((Zeroizing::new(bytes), t))
}

fn typed_leaf(
    plaintext: Zeroizing<Vec<u8>>,
    value_type: ValueType,
    aad: &str,
) -> Result<LeafMut, CryptoError> {
    let bad = |kind| CryptoError::BadPlaintext {
        path: path_of(aad),
        kind,
    };
    let text = || std::str::from_utf8(&plaintext).map_err(|_| bad("UTF-8 text"));
    Ok(match value_type {
        ValueType::Str => match String::from_utf8(plaintext.to_vec()) {
            Ok(s) => LeafMut::Scalar(Scalar::Str(s)),
            Err(e) => LeafMut::Scalar(Scalar::Bytes(e.into_bytes())),
        },
        ValueType::Bytes => LeafMut::Scalar(Scalar::Bytes(plaintext.to_vec())),
        ValueType::Int => {
            LeafMut::Scalar(Scalar::Int(text()?.parse().map_err(|_| bad("integer"))?))
        }
        ValueType::Float => LeafMut::Scalar(Scalar::Float(
            parse_go_float(text()?).ok_or_else(|| bad("float"))?,
        )),
        ValueType::Bool => LeafMut::Scalar(Scalar::Bool(
            parse_go_bool(text()?).ok_or_else(|| bad("bool"))?,
        )),
        ValueType::Time => LeafMut::Scalar(Scalar::Time(
            crate::timefmt::normalize_rfc3339_nano(text()?).ok_or_else(|| bad("RFC 3339 time"))?,
        )),
        ValueType::Comment => LeafMut::Comment(text()?.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_f() -> DataKey {
        DataKey::from_slice(&[b'f'; 32]).unwrap()
    }

    #[test]
    fn decrypts_sops_cipher_test_vector() {
        let c = Cipher::new(&key_f());
        let enc = "ENC[AES256_GCM,data:oYyi,iv:MyIDYbT718JRr11QtBkcj3Dwm4k1aCGZBVeZf0EyV8o=,tag:t5z2Z023Up0kxwCgw1gNxg==,type:str]";
        match c.decrypt_leaf(enc, "bar:", None).unwrap() {
            LeafMut::Scalar(Scalar::Str(s)) => assert_eq!(s, "foo"),
            _ => panic!("wrong leaf"),
        }
        assert!(matches!(
            c.decrypt_leaf(enc, "baz:", None),
            Err(CryptoError::Authentication { .. })
        ));
    }

    #[test]
    fn stash_reuses_iv_for_unchanged_values() {
        let c = Cipher::new(&key_f());
        let stash = IvStash::default();
        let enc = c
            .encrypt_leaf(LeafMut::Scalar(Scalar::Int(42)), "a:", None)
            .unwrap();
        c.decrypt_leaf(&enc, "a:", Some(&stash)).unwrap();
        let again = c
            .encrypt_leaf(LeafMut::Scalar(Scalar::Int(42)), "a:", Some(&stash))
            .unwrap();
        assert_eq!(enc, again);
        let changed = c
            .encrypt_leaf(LeafMut::Scalar(Scalar::Int(43)), "a:", Some(&stash))
            .unwrap();
        assert_ne!(enc, changed);
    }

    #[test]
    fn empty_strings_stay_empty() {
        let c = Cipher::new(&key_f());
        assert_eq!(
            c.encrypt_leaf(LeafMut::Scalar(Scalar::Str(String::new())), "a:", None)
                .unwrap(),
            ""
        );
    }
}
