//! HashiCorp Vault (and OpenBao) transit master keys: `POST /v1/ENGINE/encrypt/KEY` and
//! `/decrypt/KEY` with the token from `VAULT_TOKEN` or `~/.vault-token`, as sops does it.

use super::allowlist::Allowlist;
use super::parse_uri;
use crate::keys::discovery::Env;
use crate::keys::http::{self, env, Client, HttpError, Request};
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::metadata::{HcVaultStanza, KeyStanza};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::sync::OnceLock;
use zeroize::Zeroizing;

const BACKEND: &str = super::TYPE_ID;

/// A transit key: `https://vault:8200/v1/transit/keys/NAME` split as sops splits it.
pub struct VaultKey {
    pub address: String,
    pub engine_path: String,
    pub key_name: String,
    http: Client,
}

impl VaultKey {
    pub fn from_uri(uri: &str) -> Result<VaultKey, KeyError> {
        let (address, engine_path, key_name) = parse_uri(uri)?;
        Ok(VaultKey {
            address,
            engine_path,
            key_name,
            http: Client::new(),
        })
    }

    fn stanza(&self, enc: String, created_at: String) -> HcVaultStanza {
        HcVaultStanza {
            vault_address: self.address.clone(),
            engine_path: self.engine_path.clone(),
            key_name: self.key_name.clone(),
            created_at,
            enc,
        }
    }
}

/// `VAULT_TOKEN`, else the token file the `vault login` CLI writes.
fn token() -> Option<Zeroizing<String>> {
    if let Some(t) = env("VAULT_TOKEN") {
        return Some(Zeroizing::new(t.trim().to_string()));
    }
    let path = http::home_dir()?.join(".vault-token");
    let text = Zeroizing::new(std::fs::read_to_string(path).ok()?);
    Some(Zeroizing::new(text.trim().to_string())).filter(|t| !t.is_empty())
}

fn vault_message(v: &serde_json::Value) -> Option<String> {
    let errors = v.get("errors")?.as_array()?;
    let list: Vec<&str> = errors.iter().filter_map(|e| e.as_str()).collect();
    Some(list.join("; "))
}

fn hint(err: &HttpError) -> &'static str {
    match err.status() {
        None => "check that Vault is reachable at this address",
        Some(403) => "check VAULT_TOKEN (or ~/.vault-token) and that its policy allows this transit path",
        Some(404) => "check the engine path and key name, and that the transit engine is mounted",
        Some(400) => "the transit key refused the request; for decryption, check that the file was encrypted with this key",
        _ => "check the Vault server",
    }
}

/// One transit call: `{address}/v1/{engine}/{op}/{key}` with `payload`, returning `data`.
fn transit(
    client: &Client,
    stanza: &HcVaultStanza,
    op: &str,
    payload: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let allowlist = Allowlist::from_env(&Env::process())?;
    if !allowlist.allows(&stanza.vault_address) {
        return Err(format!("Allowlist does not allow {}", stanza.vault_address));
    }
    let url = format!(
        "{}/v1/{}/{op}/{}",
        stanza.vault_address.trim_end_matches('/'),
        stanza.engine_path,
        stanza.key_name
    );
    let mut request = Request::new("POST", &url).json(&payload);
    if let Some(t) = token() {
        request = request.header("x-vault-token", t.as_str());
    }
    if let Some(ns) = env("VAULT_NAMESPACE") {
        request = request.header("x-vault-namespace", ns);
    }
    let describe = |e: HttpError| format!("{e}; {}", hint(&e));
    let response = client.send(&request, |_| false).map_err(describe)?;
    if !response.is_success() {
        return Err(describe(http::status_error(
            &request,
            &response,
            vault_message,
        )));
    }
    let json = response
        .json()
        .ok_or_else(|| http::shape_error(&request, "the answer is not JSON").to_string())?;
    match json.get("data") {
        Some(data) if data.is_object() => Ok(data.clone()),
        _ => Err(http::shape_error(&request, "transit backend is empty").to_string()),
    }
}

fn failed(key: String, message: String) -> KeyError {
    KeyError::Failed {
        backend: BACKEND,
        key,
        message,
    }
}

impl MasterKey for VaultKey {
    fn type_id(&self) -> &'static str {
        BACKEND
    }

    fn identity(&self) -> String {
        KeyStanza::HcVault(self.stanza(String::new(), String::new())).identity()
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        let stanza = self.stanza(String::new(), crate::compat::rfc3339::now_rfc3339());
        let data = transit(
            &self.http,
            &stanza,
            "encrypt",
            serde_json::json!({ "plaintext": B64.encode(secret) }),
        )
        .map_err(|m| {
            failed(
                self.identity(),
                format!("failed to encrypt the data key: {m}"),
            )
        })?;
        let ciphertext = data["ciphertext"].as_str().ok_or_else(|| {
            failed(
                self.identity(),
                "the transit answer has no ciphertext".into(),
            )
        })?;
        Ok(KeyStanza::HcVault(HcVaultStanza {
            enc: ciphertext.to_string(),
            ..stanza
        }))
    }
}

#[derive(Default)]
pub struct VaultUnwrapper {
    http: OnceLock<Client>,
}

impl VaultUnwrapper {
    pub fn from_env() -> VaultUnwrapper {
        VaultUnwrapper::default()
    }
}

impl KeyUnwrapper for VaultUnwrapper {
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let KeyStanza::HcVault(k) = stanza else {
            return None;
        };
        let client = self.http.get_or_init(Client::new);
        let result = transit(
            client,
            k,
            "decrypt",
            serde_json::json!({ "ciphertext": k.enc }),
        )
        .map_err(|m| format!("failed to decrypt the data key: {m}"))
        .and_then(|data| {
            let text = data["plaintext"]
                .as_str()
                .ok_or("the transit answer has no plaintext")?;
            B64.decode(text)
                .map(Zeroizing::new)
                .map_err(|_| "the transit answer's plaintext is not base64".to_string())
        });
        Some(result.map_err(|m| failed(stanza.identity(), m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_forms() {
        assert_eq!(
            parse_uri("https://vault.example.com:8200/v1/transit/keys/k1").unwrap(),
            (
                "https://vault.example.com:8200".into(),
                "transit".into(),
                "k1".into()
            )
        );
        assert_eq!(
            parse_uri("http://127.0.0.1:8200/v1/my/transit/keys/k")
                .unwrap()
                .1,
            "my/transit"
        );
        assert!(parse_uri("vault.example.com/v1/transit/keys/k").is_err());
        assert!(parse_uri("https://v/prefix/v1/transit/keys/k").is_err());
        assert!(parse_uri("https://v/v1/transit").is_err());
    }

    #[test]
    fn documented_transit_exchange() {
        let server = http::test_server::start(|r| {
            if r.path.ends_with("/encrypt/k") {
                let pt = r.json()["plaintext"].as_str().unwrap().to_string();
                (200, serde_json::json!({"data": {"ciphertext": format!("vault:v1:{pt}"), "key_version": 1}}).to_string())
            } else {
                let ct = r.json()["ciphertext"].as_str().unwrap().to_string();
                (
                    200,
                    serde_json::json!({"data": {"plaintext": ct.trim_start_matches("vault:v1:")}})
                        .to_string(),
                )
            }
        });
        let key = VaultKey::from_uri(&format!("{}/v1/transit/keys/k", server.base)).unwrap();
        let stanza = key.wrap(b"0123456789abcdef0123456789abcdef").unwrap();
        assert!(stanza.enc().starts_with("vault:v1:"));
        let back = VaultUnwrapper::default().unwrap(&stanza).unwrap().unwrap();
        assert_eq!(&back[..], b"0123456789abcdef0123456789abcdef");
        let seen = server.requests.lock().unwrap();
        assert_eq!(seen[0].path, "/v1/transit/encrypt/k");
        assert_eq!(seen[1].path, "/v1/transit/decrypt/k");
    }

    #[test]
    fn vault_errors_are_reported() {
        let server =
            http::test_server::start(|_| (403, r#"{"errors":["permission denied"]}"#.into()));
        let key = VaultKey::from_uri(&format!("{}/v1/transit/keys/k", server.base)).unwrap();
        let err = key.wrap(&[7; 32]).unwrap_err().to_string();
        assert!(err.contains("HTTP 403: permission denied"), "{err}");
        assert!(err.contains("VAULT_TOKEN"), "{err}");
    }
}
