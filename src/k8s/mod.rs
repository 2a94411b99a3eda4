//! Kubernetes integrations: Secret manifests, the helm wrapper and plugin, the kustomize
//! generator. All of them share one rule: a file is decrypted only if it carries sops metadata
//! (detected by parsing, never guessed from its name), and the MAC is always verified.

pub mod helm;
pub mod kustomize;
pub mod redact;
pub mod refs;
pub mod secret;

use crate::file::{self, SopsFile};
use crate::keys::KeyService;
use crate::stores::{store_for, Format, StoreError, StoreOptions};
use crate::tree::{Document, Scalar};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Decrypt {
        path: PathBuf,
        #[source]
        source: file::Error,
    },
    #[error("could not read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a sops-encrypted file (no sops metadata in any format)", path.display())]
    NotEncrypted { path: PathBuf },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The formats tried when detecting an encrypted file: the one its name suggests first.
fn candidate_formats(path: &Path) -> Vec<Format> {
    let mut formats = vec![Format::from_path(path)];
    for f in [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini] {
        if !formats.contains(&f) {
            formats.push(f);
        }
    }
    formats
}

/// The format in which `bytes` parse with sops metadata; `None` for a plain file. A file whose
/// metadata is present but malformed is an error, so it can never pass through as "plain".
pub fn detect_encrypted(bytes: &[u8], path: &Path) -> Result<Option<Format>, Error> {
    let mut broken = None;
    for format in candidate_formats(path) {
        let store = store_for(format, StoreOptions::default());
        match store.load_encrypted(bytes) {
            Ok((_, Some(_))) => return Ok(Some(format)),
            // Malformed metadata is read as encrypted, then fails to load in its own format.
            Err(StoreError::Metadata(_)) if format == Format::from_path(path) => {
                return Ok(Some(format))
            }
            Ok((_, None)) => {}
            Err(e @ StoreError::Metadata(_)) => broken = broken.or(Some(e)),
            Err(_) => {}
        }
    }
    match broken {
        Some(e) => Err(Error::Decrypt {
            path: path.to_path_buf(),
            source: file::Error::Store(e),
        }),
        None => Ok(None),
    }
}

/// `SOPS_DECRYPTION_ORDER`, else sops's default.
pub fn decryption_order() -> Vec<String> {
    match std::env::var("SOPS_DECRYPTION_ORDER") {
        Ok(text) if !text.is_empty() => text.split(',').map(str::to_string).collect(),
        _ => crate::keys::groups::DEFAULT_DECRYPTION_ORDER
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// An encrypted file's plaintext, as `sops decrypt` prints it (`output` defaults to the
/// file's own format).
pub fn decrypt_file_bytes(
    keys: &dyn KeyService,
    path: &Path,
    bytes: &[u8],
    format: Format,
    output: Option<Format>,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let options = StoreOptions::default();
    let input = store_for(format, options);
    let out = store_for(output.unwrap_or(format), options);
    SopsFile::decrypt(input.as_ref(), bytes, keys, &decryption_order())
        .and_then(|file| file.emit_plain(out.as_ref()))
        .map_err(|source| Error::Decrypt {
            path: path.to_path_buf(),
            source,
        })
}

/// Reads and decrypts a file that must be encrypted; returns its plaintext and its format.
pub fn decrypt_required(
    keys: &dyn KeyService,
    path: &Path,
) -> Result<(Zeroizing<Vec<u8>>, Format), Error> {
    let bytes = read(path)?;
    let format = detect_encrypted(&bytes, path)?.ok_or_else(|| Error::NotEncrypted {
        path: path.to_path_buf(),
    })?;
    Ok((
        decrypt_file_bytes(keys, path, &bytes, format, None)?,
        format,
    ))
}

/// Reads and decrypts a file that must be encrypted, as a document (for per-key use).
pub fn decrypt_document(keys: &dyn KeyService, path: &Path) -> Result<(Document, Format), Error> {
    let bytes = read(path)?;
    let format = detect_encrypted(&bytes, path)?.ok_or_else(|| Error::NotEncrypted {
        path: path.to_path_buf(),
    })?;
    Ok((decrypt_document_bytes(keys, path, &bytes, format)?, format))
}

/// An encrypted file's plaintext document, from bytes already read (`path` names it in errors).
pub fn decrypt_document_bytes(
    keys: &dyn KeyService,
    path: &Path,
    bytes: &[u8],
    format: Format,
) -> Result<Document, Error> {
    let store = store_for(format, StoreOptions::default());
    SopsFile::decrypt(store.as_ref(), bytes, keys, &decryption_order())
        .map(SopsFile::into_document)
        .map_err(|source| Error::Decrypt {
            path: path.to_path_buf(),
            source,
        })
}

/// A leaf's bytes as sops prints it in flat formats (dotenv/INI): numbers in Go's spelling.
pub fn scalar_bytes(scalar: &Scalar) -> Vec<u8> {
    match scalar {
        Scalar::Null => Vec::new(),
        Scalar::Bytes(b) => b.clone(),
        other => crate::stores::scalar_to_text(other)
            .unwrap_or_default()
            .into_bytes(),
    }
}
