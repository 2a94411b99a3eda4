//! Key sources: who may unwrap a file's data key, and how.

pub mod age;
pub mod aws;
pub mod azkv;
pub mod cache;
pub mod discovery;
pub mod gcpkms;
pub mod groups;
pub mod hckms;
pub mod hcvault;
#[cfg(feature = "http")]
pub mod http;
pub mod logged;
pub mod pgp;
pub mod registry;
pub mod remote;
pub mod shamir;

use crate::config::KeySpec;
use crate::metadata::KeyStanza;
use zeroize::Zeroizing;

#[derive(Clone, Debug, thiserror::Error)]
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
pub trait KeyUnwrapper: Send + Sync {
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>>;
}

/// Who can wrap and unwrap data keys for this process. Every library operation takes one; the
/// library itself never looks at the environment for keys. [`EnvKeys`] is the one sops users
/// know (identities, keyrings and cloud credentials from the environment); a test, a remote
/// keyservice or a cache is another.
pub trait KeyService: Send + Sync {
    /// The master keys a key spec names (an age spec may list several recipients).
    fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError>;
    /// `None` when no source here handles this stanza's type.
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>>;
}

impl<S: KeyService + ?Sized> KeyService for Box<S> {
    fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        (**self).master_keys(spec)
    }

    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        (**self).unwrap(stanza)
    }
}

/// Unwrap-only service over explicit unwrappers, tried in order (tests, embedding programs
/// that hold their identities themselves).
pub struct Unwrappers<'a>(pub &'a [&'a dyn KeyUnwrapper]);

impl KeyService for Unwrappers<'_> {
    fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        Err(KeyError::Failed {
            backend: spec.kind(),
            key: String::new(),
            message: "this key service only unwraps".to_string(),
        })
    }

    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        self.0.iter().find_map(|u| u.unwrap(stanza))
    }
}

/// Every key source rsops knows, configured from one environment snapshot as sops reads it
/// (`SOPS_AGE_*`, `GNUPGHOME`, cloud credentials …); each loads its secrets only when first
/// asked, and none touches the network before it is asked about a stanza of its own type.
pub struct EnvKeys {
    env: discovery::Env,
    unwrappers: Vec<Box<dyn KeyUnwrapper>>,
}

impl EnvKeys {
    /// The sources the process environment configures; for the CLI, which builds it once.
    pub fn from_env() -> EnvKeys {
        EnvKeys {
            env: discovery::Env::process(),
            unwrappers: registry::BACKENDS
                .iter()
                .filter_map(|b| b.unwrapper())
                .collect(),
        }
    }
}

impl KeyService for EnvKeys {
    fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        spec.backend().master_keys(spec, &self.env)
    }

    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        self.unwrappers.iter().find_map(|u| u.unwrap(stanza))
    }
}
