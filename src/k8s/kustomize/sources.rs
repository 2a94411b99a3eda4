//! The files a generator config names, each loaded once (decrypted when it carries sops
//! metadata), all of them side by side before any resource is assembled.

use super::super::{decrypt_document_bytes, decrypt_file_bytes, detect_encrypted, read, Error};
use super::parallel::bounded_map;
use crate::keys::KeyService;
use crate::stores::{store_for, Format, StoreOptions};
use crate::tree::Document;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// How a file is used: its whole plaintext (as `sops decrypt` prints it), or its document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Bytes,
    Document,
}

/// One file to load. `plain_ok` lets a file without sops metadata through as it is (the
/// ConfigMap generator's non-secret files); everywhere else it is an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub want: Want,
    pub plain_ok: bool,
}

pub enum Loaded {
    Bytes(Zeroizing<Vec<u8>>),
    Document(Document),
}

/// The distinct sources of one config, in the order they were first asked for.
#[derive(Default)]
pub struct Sources {
    list: Vec<Source>,
}

impl Sources {
    /// The index of `source`'s result (a file asked for twice is loaded once).
    pub fn request(&mut self, source: Source) -> usize {
        if let Some(i) = self.list.iter().position(|s| *s == source) {
            return i;
        }
        self.list.push(source);
        self.list.len() - 1
    }

    /// Loads every source on at most `concurrency` threads. The first failure in list order is
    /// the one reported, so the error does not depend on thread timing.
    pub fn load(
        &self,
        keys: &(dyn KeyService + Sync),
        concurrency: usize,
    ) -> Result<Vec<Loaded>, Error> {
        bounded_map(&self.list, concurrency, |source| load(keys, source))
            .into_iter()
            .collect()
    }
}

fn load(keys: &dyn KeyService, source: &Source) -> Result<Loaded, Error> {
    let path = &source.path;
    let bytes = read(path)?;
    match detect_encrypted(&bytes, path)? {
        Some(format) => match source.want {
            Want::Bytes => decrypt_file_bytes(keys, path, &bytes, format, None).map(Loaded::Bytes),
            Want::Document => {
                decrypt_document_bytes(keys, path, &bytes, format).map(Loaded::Document)
            }
        },
        None if source.plain_ok => match source.want {
            Want::Bytes => Ok(Loaded::Bytes(Zeroizing::new(bytes))),
            Want::Document => {
                let format = Format::from_path(path);
                store_for(format, StoreOptions::default())
                    .load_plain(&bytes)
                    .map(Loaded::Document)
                    .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
            }
        },
        None => Err(Error::NotEncrypted { path: path.clone() }),
    }
}
