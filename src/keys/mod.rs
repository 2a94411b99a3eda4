//! Key sources: who may unwrap a file's data key, and how.

pub mod age;
#[cfg(feature = "aws-kms")]
pub mod aws;
#[cfg(feature = "azure-kv")]
pub mod azkv;
pub mod discovery;
#[cfg(feature = "gcp-kms")]
pub mod gcpkms;
pub mod groups;
#[cfg(feature = "hc-vault")]
pub mod hcvault;
#[cfg(feature = "http")]
pub mod http;
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
    #[cfg(feature = "aws-kms")]
    kms: aws::KmsUnwrapper,
    #[cfg(feature = "hc-vault")]
    vault: hcvault::VaultUnwrapper,
    #[cfg(feature = "gcp-kms")]
    gcp: gcpkms::GcpKmsUnwrapper,
    #[cfg(feature = "azure-kv")]
    azure: azkv::AzureKvUnwrapper,
}

impl KeySources {
    /// Sources configured by the environment, as sops reads it (SOPS_AGE_*, GNUPGHOME …).
    pub fn from_env() -> KeySources {
        KeySources {
            age: age::AgeIdentities::from_env(),
            pgp: pgp::PgpDecryptor::from_env(),
            #[cfg(feature = "aws-kms")]
            kms: aws::KmsUnwrapper::from_env(),
            #[cfg(feature = "hc-vault")]
            vault: hcvault::VaultUnwrapper::from_env(),
            #[cfg(feature = "gcp-kms")]
            gcp: gcpkms::GcpKmsUnwrapper::from_env(),
            #[cfg(feature = "azure-kv")]
            azure: azkv::AzureKvUnwrapper::from_env(),
        }
    }

    /// Network sources come after the offline ones; each answers only for its own stanza type,
    /// and none touches the network before it is asked about one.
    pub fn unwrappers(&self) -> Vec<&dyn KeyUnwrapper> {
        #[allow(unused_mut)]
        let mut list: Vec<&dyn KeyUnwrapper> = vec![&self.age, &self.pgp];
        #[cfg(feature = "aws-kms")]
        list.push(&self.kms);
        #[cfg(feature = "hc-vault")]
        list.push(&self.vault);
        #[cfg(feature = "gcp-kms")]
        list.push(&self.gcp);
        #[cfg(feature = "azure-kv")]
        list.push(&self.azure);
        list
    }
}
