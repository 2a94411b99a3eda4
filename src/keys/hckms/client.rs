//! HuaweiCloud KMS over its documented REST API, as sops's `hckms` package calls it through the
//! SDK: `POST /v1.0/{project_id}/kms/encrypt-data` with the base64 data key as `plain_text`, and
//! `decrypt-data` back; AK/SK signed (`sign.rs`).
//!
//! Credentials come from the SDK's variables (`HUAWEICLOUD_SDK_AK`, `HUAWEICLOUD_SDK_SK`,
//! `HUAWEICLOUD_SDK_PROJECT_ID`, optional `HUAWEICLOUD_SDK_SECURITY_TOKEN`); the endpoint is
//! `https://kms.{region}.myhuaweicloud.com` unless the SDK's own override
//! `HUAWEICLOUD_SDK_REGION_KMS_{REGION}` (upper case, `-` as `_`) names another.

use super::sign::{self, ToSign};
use super::{parse_key_id, HckmsStanza, TYPE_ID};
use crate::keys::http::{self, env, Client, Request};
use crate::keys::registry::KeyStanza;
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// The only algorithm sops asks for.
const ALGORITHM: &str = "SYMMETRIC_DEFAULT";

fn failed(key: &str, message: String) -> KeyError {
    KeyError::Failed {
        backend: TYPE_ID,
        key: key.to_string(),
        message,
    }
}

/// The endpoint for a region: the SDK's override variable, else the public one.
pub fn endpoint(region: &str) -> String {
    let name = format!(
        "HUAWEICLOUD_SDK_REGION_KMS_{}",
        region.to_ascii_uppercase().replace('-', "_")
    );
    env(&name)
        .map(|e| e.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("https://kms.{region}.myhuaweicloud.com"))
}

struct Credentials {
    access_key: String,
    secret_key: Zeroizing<String>,
    project_id: String,
    security_token: Option<Zeroizing<String>>,
}

impl Credentials {
    fn from_env() -> Result<Credentials, String> {
        let missing = |name: &str| {
            format!(
                "failed to get HuaweiCloud credentials: {name} is not set (set HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and HUAWEICLOUD_SDK_PROJECT_ID)"
            )
        };
        Ok(Credentials {
            access_key: env("HUAWEICLOUD_SDK_AK").ok_or_else(|| missing("HUAWEICLOUD_SDK_AK"))?,
            secret_key: Zeroizing::new(
                env("HUAWEICLOUD_SDK_SK").ok_or_else(|| missing("HUAWEICLOUD_SDK_SK"))?,
            ),
            project_id: env("HUAWEICLOUD_SDK_PROJECT_ID")
                .ok_or_else(|| missing("HUAWEICLOUD_SDK_PROJECT_ID"))?,
            security_token: env("HUAWEICLOUD_SDK_SECURITY_TOKEN").map(Zeroizing::new),
        })
    }
}

fn sdk_date() -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_default()
}

/// `host[:port]` of an endpoint URL, as the HTTP client sends it in `Host`.
fn authority(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// The service's message from either error layout it documents.
fn error_message(json: &serde_json::Value) -> Option<String> {
    let e = json.get("error").unwrap_or(json);
    let msg = e.get("error_msg")?.as_str()?;
    Some(match e.get("error_code").and_then(|c| c.as_str()) {
        Some(code) => format!("{code}: {msg}"),
        None => msg.to_string(),
    })
}

/// One signed `POST {endpoint}/v1.0/{project}/kms/{action}`; the answer's JSON on success.
fn call(
    client: &Client,
    region: &str,
    action: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let creds = Credentials::from_env()?;
    let base = endpoint(region);
    let path = format!("/v1.0/{}/kms/{action}", creds.project_id);
    let url = format!("{base}{path}");
    let body = Zeroizing::new(serde_json::to_vec(body).map_err(|e| e.to_string())?);
    let date = sdk_date();
    let mut signed = vec![
        ("host".to_string(), authority(&base).to_string()),
        ("x-project-id".to_string(), creds.project_id.clone()),
        ("x-sdk-date".to_string(), date.clone()),
    ];
    if let Some(token) = &creds.security_token {
        signed.push(("x-security-token".to_string(), token.to_string()));
    }
    let authorization = sign::authorization(
        &ToSign {
            method: "POST",
            path: &path,
            headers: &signed,
            body: &body,
            date: &date,
        },
        &creds.access_key,
        &creds.secret_key,
    );
    // The client derives `Host` from the URL itself; the rest go as signed.
    let mut request = Request::new("POST", &url)
        .header("Content-Type", "application/json;charset=UTF-8")
        .header("Authorization", authorization);
    for (name, value) in signed.iter().filter(|(n, _)| n != "host") {
        request = request.header(name, value.clone());
    }
    let request = request.body(body.to_vec());
    let response = client
        .send(&request, |_| false)
        .map_err(|e| e.to_string())?;
    if !response.is_success() {
        return Err(http::status_error(&request, &response, error_message).to_string());
    }
    response
        .json()
        .ok_or_else(|| http::shape_error(&request, "the answer is not JSON").to_string())
}

/// A HuaweiCloud KMS key, `region:key-uuid`.
pub struct HckmsKey {
    key_id: String,
    region: String,
    uuid: String,
    http: Client,
}

impl HckmsKey {
    pub fn new(key_id: &str) -> Result<HckmsKey, KeyError> {
        let (region, uuid) = parse_key_id(key_id).map_err(|reason| KeyError::Invalid {
            backend: TYPE_ID,
            key: key_id.to_string(),
            reason,
        })?;
        Ok(HckmsKey {
            key_id: key_id.trim().to_string(),
            region,
            uuid,
            http: Client::new(),
        })
    }
}

impl MasterKey for HckmsKey {
    fn type_id(&self) -> &'static str {
        TYPE_ID
    }

    fn identity(&self) -> String {
        self.key_id.clone()
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        // sops encrypts the base64 text of the data key, not its bytes.
        let plain = Zeroizing::new(B64.encode(secret));
        let body = serde_json::json!({
            "key_id": self.uuid,
            "plain_text": plain.as_str(),
            "encryption_algorithm": ALGORITHM,
        });
        let answer = call(&self.http, &self.region, "encrypt-data", &body).map_err(|m| {
            failed(
                &self.key_id,
                format!("failed to encrypt sops data key with HuaweiCloud KMS: {m}"),
            )
        })?;
        let cipher = answer["cipher_text"].as_str().ok_or_else(|| {
            failed(
                &self.key_id,
                "encryption response missing ciphertext".to_string(),
            )
        })?;
        Ok(KeyStanza::Hckms(HckmsStanza {
            key_id: self.key_id.clone(),
            created_at: crate::compat::rfc3339::now_rfc3339(),
            enc: cipher.to_string(),
        }))
    }
}

/// The decrypt side; builds its HTTP client on first use.
#[derive(Default)]
pub struct HckmsUnwrapper {
    http: OnceLock<Client>,
}

impl HckmsUnwrapper {
    pub fn from_env() -> HckmsUnwrapper {
        HckmsUnwrapper::default()
    }

    fn decrypt(&self, stanza: &HckmsStanza) -> Result<Zeroizing<Vec<u8>>, String> {
        let (region, uuid) = parse_key_id(&stanza.key_id)?;
        let body = serde_json::json!({
            "cipher_text": stanza.enc,
            "encryption_algorithm": ALGORITHM,
            "key_id": uuid,
        });
        let client = self.http.get_or_init(Client::new);
        let answer = call(client, &region, "decrypt-data", &body)
            .map_err(|m| format!("failed to decrypt sops data key with HuaweiCloud KMS: {m}"))?;
        let plain = answer["plain_text"]
            .as_str()
            .ok_or("decryption response missing plaintext")?;
        B64.decode(plain)
            .map(Zeroizing::new)
            .map_err(|e| format!("failed to base64 decode decrypted data key: {e}"))
    }
}

impl KeyUnwrapper for HckmsUnwrapper {
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let KeyStanza::Hckms(k) = stanza else {
            return None;
        };
        Some(self.decrypt(k).map_err(|m| failed(&k.key_id, m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_and_error_layouts() {
        assert_eq!(authority("http://127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(
            authority("https://kms.tr-west-1.myhuaweicloud.com/x"),
            "kms.tr-west-1.myhuaweicloud.com"
        );
        let nested =
            serde_json::json!({"error": {"error_code": "KMS.0205", "error_msg": "no key"}});
        assert_eq!(error_message(&nested).unwrap(), "KMS.0205: no key");
        let flat = serde_json::json!({"error_code": "APIGW.0301", "error_msg": "bad sig"});
        assert_eq!(error_message(&flat).unwrap(), "APIGW.0301: bad sig");
    }
}
