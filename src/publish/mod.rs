//! `publish`: sending a file to the destination its `.sops.yaml` destination rule names, as
//! sops 3.11 does: the encrypted file (re-encrypted for the rule's `recreation_rule` keys when it
//! has any) to an S3 or GCS bucket, or the decrypted values to a Vault KV path. What to send is
//! decided by the caller with [`crate::file`]; these modules only deliver it.

#[cfg(feature = "gcp-kms")]
pub mod gcs;
#[cfg(feature = "aws-kms")]
pub mod s3;
#[cfg(feature = "http")]
pub mod vault_kv;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PublishError {
    pub message: String,
    pub hint: &'static str,
}
