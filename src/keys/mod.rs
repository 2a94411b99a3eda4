//! Key sources: who may unwrap a file's data key, and how.

pub mod age;
pub mod discovery;
pub mod groups;
pub mod pgp;
pub mod shamir;

use crate::metadata::KeyStanza;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key string that does not parse (bad fingerprint, bad recipient …).
    #[error("invalid {backend} key `{key}`: {reason}")]
    Invalid {
        backend: &'static str,
        key: String,
        reason: String,
    },
    /// The backend was reached (or run) and failed: missing public key, gpg error, wrong identity …
    #[error("{backend} key {key}: {message}")]
    Failed {
        backend: &'static str,
        key: String,
        message: String,
    },
}

/// The encrypt side: wraps the data key (or one Shamir share) for one recipient.
pub trait MasterKey: Send + Sync {
    /// sops's type id: `age`, `pgp`, `kms`, …
    fn type_id(&self) -> &'static str;
    /// The key as sops prints it (`ToString`): recipient, fingerprint, ARN …
    fn identity(&self) -> String;
    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError>;
}

/// The decrypt side. `None` = "this stanza is not for me", `Some(Err)` = "mine, but it failed".
pub trait KeyUnwrapper {
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>>;
}

/// Every decryption-key source rsops knows, each loading its secrets only when first asked.
pub struct KeySources {
    age: age::AgeIdentities,
    pgp: pgp::PgpDecryptor,
}

impl KeySources {
    /// Sources configured by the environment, as sops reads it (SOPS_AGE_*, GNUPGHOME …).
    pub fn from_env() -> KeySources {
        KeySources {
            age: age::AgeIdentities::from_env(),
            pgp: pgp::PgpDecryptor::from_env(),
        }
    }

    pub fn unwrappers(&self) -> Vec<&dyn KeyUnwrapper> {
        vec![&self.age, &self.pgp]
    }
}
