//! From a key spec (flag, env var or `.sops.yaml`) to the backend that wraps for it.

use super::discovery::Env;
use super::{KeyError, MasterKey};
use crate::config::KeySpec;

pub(super) fn master_keys(spec: &KeySpec, env: &Env) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
    match spec {
        KeySpec::Age(recipients) => Ok(super::age::parse_recipients(recipients)?
            .into_iter()
            .map(|r| Box::new(r) as Box<dyn MasterKey>)
            .collect()),
        KeySpec::Pgp(fp) => Ok(vec![Box::new(super::pgp::PgpKey::with_env(
            fp,
            env.clone(),
        )?)]),
        #[cfg(feature = "aws-kms")]
        KeySpec::Kms {
            arn,
            role,
            context,
            aws_profile,
        } => Ok(vec![Box::new(super::aws::KmsKey::new(
            arn,
            role,
            context.clone(),
            aws_profile,
        )?)]),
        #[cfg(feature = "gcp-kms")]
        KeySpec::GcpKms(id) => Ok(vec![Box::new(super::gcpkms::GcpKmsKey::new(id)?)]),
        #[cfg(feature = "azure-kv")]
        KeySpec::AzureKv {
            vault_url,
            key,
            version,
        } => Ok(vec![Box::new(super::azkv::AzureKvKey::new(
            vault_url, key, version,
        ))]),
        #[cfg(feature = "hc-vault")]
        KeySpec::HcVault(uri) => Ok(vec![Box::new(super::hcvault::VaultKey::from_uri(uri)?)]),
        #[allow(unreachable_patterns)]
        other => Err(KeyError::Failed {
            backend: other.kind(),
            key: String::new(),
            message: format!(
                "this rsops build cannot encrypt with {} keys; rebuild with the matching cargo \
                 feature (aws-kms, gcp-kms, azure-kv, hc-vault)",
                other.kind()
            ),
        }),
    }
}
