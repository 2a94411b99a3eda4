//! Vault (or OpenBao) KV v1/v2 writes for `publish`: the decrypted values of a file as one
//! secret, skipped when the secret already holds exactly them (sops's "already up-to-date").

use super::PublishError;
use crate::config::Destination;
use crate::keys::http::{Client, Request};
use zeroize::Zeroizing;

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    New,
    AlreadyUpToDate,
}

pub struct VaultKv<'a> {
    pub http: &'a Client,
    /// The rule's `vault_address`, else `VAULT_ADDR`, else Vault's default (the caller decides).
    pub address: &'a str,
    pub token: &'a str,
}

impl VaultKv<'_> {
    /// Writes `data` (a JSON object) as the secret `name` of `destination`.
    pub fn write(
        &self,
        destination: &Destination,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<Written, PublishError> {
        let Destination::Vault { version, .. } = destination else {
            return Err(PublishError {
                message: "Vault does not support uploading encrypted sops files directly.".into(),
                hint: "use an s3_bucket or gcs_bucket destination for encrypted files",
            });
        };
        let url = format!(
            "{}/v1/{}",
            self.address.trim_end_matches('/'),
            destination.secrets_path(name)
        );
        // sops compares with the existing secret's `data` field: for KV v2 that is the secret.
        if self.existing_data(&url).as_ref() == Some(data) {
            return Ok(Written::AlreadyUpToDate);
        }
        let body = if *version == 1 {
            data.clone()
        } else {
            serde_json::json!({ "data": data })
        };
        let body = Zeroizing::new(serde_json::to_vec(&body).expect("JSON serializes"));
        let request = Request::new("PUT", &url)
            .header("x-vault-token", self.token)
            .header("content-type", "application/json")
            .body(body.to_vec());
        let response = self
            .http
            .send(&request, |_| false)
            .map_err(|e| PublishError {
                message: format!("cannot write {url}: {e}"),
                hint: "check VAULT_ADDR (or the rule's vault_address) and the network",
            })?;
        if response.is_success() {
            return Ok(Written::New);
        }
        let errors = response
            .json()
            .and_then(|v| v.get("errors").cloned())
            .map(|e| e.to_string())
            .unwrap_or_default();
        Err(PublishError {
            message: format!("cannot write {url}: HTTP {} {errors}", response.status),
            hint: "check VAULT_TOKEN, the KV mount (vault_kv_mount_name) and its version (vault_kv_version)",
        })
    }

    fn existing_data(&self, url: &str) -> Option<serde_json::Value> {
        let request = Request::new("GET", url).header("x-vault-token", self.token);
        let response = self.http.send(&request, |_| false).ok()?;
        if !response.is_success() {
            return None;
        }
        response.json()?.get("data")?.get("data").cloned()
    }
}
