//! What can go wrong in a sops operation on a whole file; the CLI maps each to sops's exit code.

use crate::crypto::CryptoError;
use crate::keys::groups::{GroupError, RecoverError};
use crate::keys::KeyError;
use crate::metadata::BadRegex;
use crate::stores::StoreError;
use crate::tree::path::LookupError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An encrypted file that cannot be read as one (sops reports these with exit 1).
    #[error("could not load the encrypted file: {0}")]
    Load(StoreError),
    #[error("the file has no sops metadata, so it is not encrypted (or not in this format); check the file, or pass --input-type")]
    NotEncrypted,
    #[error("the file is already encrypted (it has a top-level `sops` entry); decrypt it first or use `rsops rotate`/`updatekeys`")]
    AlreadyEncrypted,
    #[error("the file has no document to encrypt; it must contain at least one document")]
    EmptyDocument,
    #[error(transparent)]
    Regex(#[from] BadRegex),
    #[error(transparent)]
    Keys(#[from] GroupError),
    #[error("{0}")]
    Recover(#[from] RecoverError),
    #[error("could not decrypt the file: {0}")]
    Decrypt(CryptoError),
    #[error("could not encrypt the file: {0}")]
    Encrypt(CryptoError),
    /// Neither MAC is carried or printed: both are unsalted hashes of the plaintext values, and
    /// printing one lets a reader of stderr brute-force short values (sops prints both).
    #[error("MAC mismatch: the file's MAC does not match its values (neither MAC is shown: they are hashes of the plaintext); the file was modified outside sops/rsops or is corrupted (use --ignore-mac only if you know why)")]
    MacMismatch,
    #[error("MAC mismatch: the file has no MAC; the file is incomplete or was modified (use --ignore-mac to read it anyway)")]
    MacMissing,
    #[error("the MAC cannot be decrypted: {0}")]
    MacUnreadable(CryptoError),
    /// A key named for wrapping that cannot be used (bad recipient, unknown fingerprint …).
    #[error(transparent)]
    MasterKey(#[from] KeyError),
    #[error("the file has no key group {index} (it has {count})")]
    NoSuchGroup { index: usize, count: usize },
    /// sops refuses this even when one group would be left, rather than silently dropping the
    /// threshold.
    #[error("removing this key group will make the Shamir threshold impossible to satisfy: the threshold is {threshold}, but {left} key group(s) would be left")]
    ThresholdUnreachable { threshold: usize, left: usize },
    /// `set`/`unset` on a file without a document.
    #[error("the file has no document")]
    NoDocument,
    #[error("the document is empty")]
    NothingToExtract,
    #[error("error truncating tree: {0}")]
    Extract(LookupError),
    #[error("Key not found: {0}")]
    Unset(LookupError),
}
