//! AES-256-GCM with sops's 32-byte nonces, and the conversion between typed leaves and plaintext.

use super::enc_value::{EncParts, EncValue, EncValueError, ValueType};
use super::DataKey;
use crate::compat::number::{format_float_f, parse_go_bool, parse_go_float};
use crate::tree::{LeafMut, Scalar};
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce, Tag};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
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

    /// Takes over every IV `other` remembers (its own win on a clash). Only for stashes of the
    /// same data key: an IV then only ever meets the plaintext it was first used with.
    pub fn absorb(&self, other: &IvStash) {
        let theirs = other.ivs.lock().expect("iv stash lock").clone();
        let mut ours = self.ivs.lock().expect("iv stash lock");
        for (key, iv) in theirs {
            ours.entry(key).or_insert(iv);
        }
    }

    fn recall(&self, aad: &str, value_type: ValueType, plaintext: &[u8]) -> Option<Vec<u8>> {
        let key = Self::key(aad, value_type, plaintext);
        self.ivs.lock().expect("iv stash lock").get(&key).cloned()
    }
}

/// An IV as read from a file: almost always sops's 32 bytes, kept off the heap.
enum IvBytes {
    Fixed([u8; 32]),
    Other(Vec<u8>),
}

impl IvBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            IvBytes::Fixed(iv) => iv,
            IvBytes::Other(iv) => iv,
        }
    }
}

/// A value opened by the fast path: its plaintext, IV and (unchecked) type tag.
struct Opened<'t> {
    plaintext: Zeroizing<Vec<u8>>,
    iv: [u8; 32],
    value_type: &'t str,
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
        let mut buffer = Zeroizing::new(Vec::new());
        self.seal_with(plaintext, value_type, aad, iv.as_deref(), &mut buffer)
    }

    /// [`Cipher::seal`] with a caller-owned work buffer, so a whole document is sealed without
    /// an allocation per value beyond the output string.
    pub(crate) fn seal_with(
        &self,
        plaintext: &[u8],
        value_type: ValueType,
        aad: &str,
        iv: Option<&[u8]>,
        buffer: &mut Vec<u8>,
    ) -> String {
        let mut nonce = [0u8; 32];
        match iv.filter(|iv| iv.len() == 32) {
            Some(iv) => nonce.copy_from_slice(iv),
            // ThreadRng is a CSPRNG (ChaCha, seeded and reseeded from the OS): the same quality
            // of nonce as one `getrandom` call per value, without the system call.
            None => rand::thread_rng().fill_bytes(&mut nonce),
        }
        buffer.clear();
        buffer.extend_from_slice(plaintext);
        let tag = self
            .aead
            .encrypt_in_place_detached(Nonce::<U32>::from_slice(&nonce), aad.as_bytes(), buffer)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let type_name = value_type.as_str();
        let mut out = String::with_capacity(96 + buffer.len() * 4 / 3 + type_name.len());
        out.push_str("ENC[AES256_GCM,data:");
        STANDARD.encode_string(&buffer[..], &mut out);
        out.push_str(",iv:");
        STANDARD.encode_string(nonce, &mut out);
        out.push_str(",tag:");
        STANDARD.encode_string(tag, &mut out);
        out.push_str(",type:");
        out.push_str(type_name);
        out.push(']');
        out
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

    /// Opens the common shape (32-byte IV, 16-byte tag) without intermediate allocations.
    /// `None` sends anything else through [`Cipher::open`], which words the errors.
    fn open_fast<'t>(&self, text: &'t str, aad: &str) -> Option<Result<Opened<'t>, CryptoError>> {
        let parts = EncParts::split(text).ok()?;
        if parts.iv.len() != 44 || parts.tag.len() != 24 {
            return None;
        }
        let mut data = Zeroizing::new(Vec::with_capacity(parts.data.len() * 3 / 4));
        STANDARD.decode_vec(parts.data, &mut data).ok()?;
        let mut iv = [0u8; 48];
        let mut tag = [0u8; 48];
        if STANDARD.decode_slice(parts.iv, &mut iv).ok()? != 32
            || STANDARD.decode_slice(parts.tag, &mut tag).ok()? != 16
        {
            return None;
        }
        let result = self.aead.decrypt_in_place_detached(
            Nonce::<U32>::from_slice(&iv[..32]),
            aad.as_bytes(),
            &mut data,
            Tag::from_slice(&tag[..16]),
        );
        let mut nonce = [0u8; 32];
        nonce.copy_from_slice(&iv[..32]);
        Some(match result {
            Ok(()) => Ok(Opened {
                plaintext: data,
                iv: nonce,
                value_type: parts.value_type,
            }),
            Err(_) => Err(CryptoError::Authentication { path: path_of(aad) }),
        })
    }

    /// Encrypts one typed leaf the way sops's `Cipher.Encrypt` does. Empty strings and empty
    /// comments stay empty (sops never encrypts them).
    pub fn encrypt_leaf(
        &self,
        leaf: LeafMut,
        aad: &str,
        stash: Option<&IvStash>,
    ) -> Result<String, CryptoError> {
        let mut scratch = Zeroizing::new(Vec::new());
        let mut buffer = Zeroizing::new(Vec::new());
        let (plaintext, value_type) = plaintext_of(&leaf, aad, &mut scratch)?;
        Ok(self.seal_plaintext(plaintext, value_type, aad, stash, &mut buffer))
    }

    /// Seals a leaf's plaintext bytes; empty strings and comments stay empty, as in sops.
    pub(crate) fn seal_plaintext(
        &self,
        plaintext: &[u8],
        value_type: ValueType,
        aad: &str,
        stash: Option<&IvStash>,
        buffer: &mut Vec<u8>,
    ) -> String {
        if plaintext.is_empty() && matches!(value_type, ValueType::Str | ValueType::Comment) {
            return String::new();
        }
        let iv = stash.and_then(|s| s.recall(aad, value_type, plaintext));
        self.seal_with(plaintext, value_type, aad, iv.as_deref(), buffer)
    }

    /// [`Cipher::decrypt_leaf`] of a string the caller gives up: a `str` plaintext is written
    /// into the ciphertext's own buffer (always longer), so decrypting a document does not
    /// free and allocate a string per value.
    pub(crate) fn decrypt_owned(
        &self,
        mut text: String,
        aad: &str,
        stash: Option<&IvStash>,
    ) -> Result<LeafMut, CryptoError> {
        if text.is_empty() || stash.is_some() {
            return self.decrypt_leaf(&text, aad, stash);
        }
        let Some(result) = self.open_fast(&text, aad) else {
            return self.decrypt_leaf(&text, aad, stash);
        };
        let Opened {
            plaintext,
            value_type: type_text,
            ..
        } = result?;
        let value_type = ValueType::parse(type_text).ok_or_else(|| CryptoError::UnknownType {
            path: path_of(aad),
            tag: type_text.to_string(),
        })?;
        if value_type == ValueType::Str {
            if let Ok(plain) = std::str::from_utf8(&plaintext) {
                text.clear();
                text.push_str(plain);
                return Ok(LeafMut::Scalar(Scalar::Str(text)));
            }
        }
        typed_leaf(plaintext, value_type, aad)
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
        let unknown = |tag: &str| CryptoError::UnknownType {
            path: path_of(aad),
            tag: tag.to_string(),
        };
        let (plaintext, iv, value_type) = match self.open_fast(text, aad) {
            Some(result) => {
                let Opened {
                    plaintext,
                    iv,
                    value_type: type_text,
                } = result?;
                let value_type = ValueType::parse(type_text).ok_or_else(|| unknown(type_text))?;
                (plaintext, IvBytes::Fixed(iv), value_type)
            }
            None => {
                let (plaintext, value) = self.open(text, aad)?;
                let value_type = ValueType::parse(&value.value_type)
                    .ok_or_else(|| unknown(&value.value_type))?;
                (plaintext, IvBytes::Other(value.iv), value_type)
            }
        };
        let leaf = typed_leaf(plaintext, value_type, aad)?;
        if let Some(stash) = stash {
            let mut scratch = Zeroizing::new(Vec::new());
            let (bytes, _) = plaintext_of(&leaf, aad, &mut scratch)?;
            stash.remember(aad, value_type, bytes, iv.as_slice());
        }
        Ok(leaf)
    }
}

/// The bytes sops encrypts and hashes for a value (`sops.ToBytes`), and its type tag.
/// Text leaves are borrowed, numbers are printed into
/// `scratch` (which the caller zeroes when done).
pub(crate) fn plaintext_of<'a>(
    leaf: &'a LeafMut,
    aad: &str,
    scratch: &'a mut Vec<u8>,
) -> Result<(&'a [u8], ValueType), CryptoError> {
    use std::io::Write;
    scratch.clear();
    Ok(match leaf {
        LeafMut::Comment(c) => (c.as_bytes(), ValueType::Comment),
        LeafMut::Scalar(s) => match s {
            Scalar::Str(s) => (s.as_bytes(), ValueType::Str),
            Scalar::Bytes(b) => (&b[..], ValueType::Str),
            Scalar::Int(i) => {
                write!(scratch, "{i}").expect("writing to a Vec cannot fail");
                (&scratch[..], ValueType::Int)
            }
            Scalar::Float(f) => {
                let text = Zeroizing::new(format_float_f(*f));
                scratch.extend_from_slice(text.as_bytes());
                (&scratch[..], ValueType::Float)
            }
            Scalar::Bool(b) => (
                if *b { &b"True"[..] } else { &b"False"[..] },
                ValueType::Bool,
            ),
            Scalar::Time(t) => (t.as_bytes(), time_type(t)),
            Scalar::Null => {
                return Err(CryptoError::Unencryptable {
                    path: path_of(aad),
                    kind: "null",
                })
            }
        },
    })
}

/// A time with an offset is sops's `time`; one without (TOML's local date, time and date-time)
/// has no RFC 3339 form, so it gets rsops's own tag rather than a `time` sops would fail on.
fn time_type(text: &str) -> ValueType {
    if crate::compat::rfc3339::parse_rfc3339(text).is_some() {
        ValueType::Time
    } else {
        ValueType::LocalTime
    }
}

fn typed_leaf(
    mut plaintext: Zeroizing<Vec<u8>>,
    value_type: ValueType,
    aad: &str,
) -> Result<LeafMut, CryptoError> {
    let bad = |kind| CryptoError::BadPlaintext {
        path: path_of(aad),
        kind,
    };
    fn text(p: &[u8]) -> Option<&str> {
        std::str::from_utf8(p).ok()
    }
    Ok(match value_type {
        // The buffer moves into the tree, whose drop zeroes it.
        ValueType::Str => match String::from_utf8(std::mem::take(&mut *plaintext)) {
            Ok(s) => LeafMut::Scalar(Scalar::Str(s)),
            Err(e) => LeafMut::Scalar(Scalar::Bytes(e.into_bytes())),
        },
        ValueType::Bytes => LeafMut::Scalar(Scalar::Bytes(std::mem::take(&mut *plaintext))),
        ValueType::Int => LeafMut::Scalar(Scalar::Int(
            text(&plaintext)
                .ok_or_else(|| bad("UTF-8 text"))?
                .parse()
                .map_err(|_| bad("integer"))?,
        )),
        ValueType::Float => LeafMut::Scalar(Scalar::Float(
            parse_go_float(text(&plaintext).ok_or_else(|| bad("UTF-8 text"))?)
                .ok_or_else(|| bad("float"))?,
        )),
        ValueType::Bool => LeafMut::Scalar(Scalar::Bool(
            parse_go_bool(text(&plaintext).ok_or_else(|| bad("UTF-8 text"))?)
                .ok_or_else(|| bad("bool"))?,
        )),
        ValueType::Time => LeafMut::Scalar(Scalar::Time(
            crate::compat::rfc3339::normalize_rfc3339_nano(
                text(&plaintext).ok_or_else(|| bad("UTF-8 text"))?,
            )
            .ok_or_else(|| bad("RFC 3339 time"))?,
        )),
        ValueType::LocalTime => LeafMut::Scalar(Scalar::Time(
            text(&plaintext)
                .filter(|t| crate::compat::rfc3339::is_local_date_time(t))
                .ok_or_else(|| bad("local date or time"))?
                .to_string(),
        )),
        ValueType::Comment => LeafMut::Comment(
            text(&plaintext)
                .ok_or_else(|| bad("UTF-8 text"))?
                .to_string(),
        ),
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
