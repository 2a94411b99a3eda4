//! Azure Key Vault master keys over the documented REST API (API version 7.4): `encrypt` and
//! `decrypt` with RSA-OAEP-256, as sops 3.11 does, and `GET key` to pin the latest version when
//! the URL names none. Tokens come from the `AZURE_*` client-secret variables, workload identity
//! (`AZURE_FEDERATED_TOKEN_FILE`), managed identity, or the Azure CLI, in that order.
//!
//! `RSOPS_AZURE_KEYVAULT_ENDPOINT` replaces the vault's base URL in requests (tests, private
//! links); the file still records the vault URL the user gave.

use crate::keys::http::{self, env, Client, HttpError, Request};
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::metadata::{AzureKvStanza, KeyStanza};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use zeroize::Zeroizing;

const BACKEND: &str = super::TYPE_ID;
const API_VERSION: &str = "7.4";
const ALGORITHM: &str = "RSA-OAEP-256";

/// The token scope for a vault: `https://vault.azure.net/.default` for `*.vault.azure.net`, and
/// the same shape for sovereign clouds and managed HSMs.
fn resource_for(vault_url: &str) -> String {
    let host = vault_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    match host.split_once('.') {
        Some((_, parent)) if parent.contains('.') => format!("https://{parent}"),
        _ => "https://vault.azure.net".to_string(),
    }
}

fn request_base(vault_url: &str) -> String {
    env("RSOPS_AZURE_KEYVAULT_ENDPOINT")
        .unwrap_or_else(|| vault_url.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// Access tokens per resource, shared by every key in one run.
#[derive(Default)]
struct TokenCache(Mutex<HashMap<String, Zeroizing<String>>>);

impl TokenCache {
    fn get(&self, client: &Client, resource: &str) -> Result<Zeroizing<String>, String> {
        let mut map = self.0.lock().expect("token lock");
        if let Some(t) = map.get(resource) {
            return Ok(t.clone());
        }
        let token = access_token(client, resource)?;
        map.insert(resource.to_string(), token.clone());
        Ok(token)
    }
}

fn authority() -> String {
    env("AZURE_AUTHORITY_HOST")
        .unwrap_or_else(|| "https://login.microsoftonline.com".to_string())
        .trim_end_matches('/')
        .to_string()
}

fn access_token(client: &Client, resource: &str) -> Result<Zeroizing<String>, String> {
    let scope = format!("{resource}/.default");
    let tenant = env("AZURE_TENANT_ID");
    let client_id = env("AZURE_CLIENT_ID");
    if let (Some(tenant), Some(id), Some(secret)) = (
        &tenant,
        &client_id,
        env("AZURE_CLIENT_SECRET").map(Zeroizing::new),
    ) {
        return entra_token(
            client,
            tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", &secret),
                ("scope", &scope),
            ],
        );
    }
    if let (Some(tenant), Some(id), Some(file)) =
        (&tenant, &client_id, env("AZURE_FEDERATED_TOKEN_FILE"))
    {
        let assertion = Zeroizing::new(
            std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read AZURE_FEDERATED_TOKEN_FILE ({file}): {e}"))?,
        );
        return entra_token(
            client,
            tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.trim()),
                ("scope", &scope),
            ],
        );
    }
    let managed = managed_identity_token(resource, client_id.as_deref());
    match managed {
        Ok(t) => Ok(t),
        Err(managed_reason) => azure_cli_token(resource).map_err(|cli_reason| {
            format!("no Azure credentials found: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE), use a managed identity, or `az login` (managed identity: {managed_reason}; Azure CLI: {cli_reason})")
        }),
    }
}

fn entra_message(v: &serde_json::Value) -> Option<String> {
    let e = v.get("error")?;
    if let Some(code) = e.as_str() {
        let desc = v["error_description"].as_str().unwrap_or("");
        // Entra appends trace and correlation ids on further lines; the first line is the point.
        let first = desc.lines().next().unwrap_or("");
        return Some(format!("{code}: {first}"));
    }
    Some(format!(
        "{}: {}",
        e["code"].as_str().unwrap_or(""),
        e["message"].as_str().unwrap_or("")
    ))
}

fn entra_token(
    client: &Client,
    tenant: &str,
    form: &[(&str, &str)],
) -> Result<Zeroizing<String>, String> {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", authority());
    let request = Request::new("POST", &url).form(form);
    let response = client
        .send(&request, |_| false)
        .map_err(|e| format!("getting an Azure access token failed: {e}"))?;
    if !response.is_success() {
        return Err(format!(
            "getting an Azure access token failed: {}; check AZURE_TENANT_ID, AZURE_CLIENT_ID and the client secret",
            http::status_error(&request, &response, entra_message)
        ));
    }
    token_field(&response)
        .ok_or_else(|| "the token endpoint's answer has no access_token".to_string())
}

fn token_field(response: &http::Response) -> Option<Zeroizing<String>> {
    response.json().and_then(|v| {
        v["access_token"]
            .as_str()
            .map(|t| Zeroizing::new(t.to_string()))
    })
}

/// App Service / Functions (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`), else the VM's IMDS.
fn managed_identity_token(
    resource: &str,
    client_id: Option<&str>,
) -> Result<Zeroizing<String>, String> {
    let client = Client::with_timeout(std::time::Duration::from_secs(2));
    let mut query = vec![("resource", resource)];
    if let Some(id) = client_id {
        query.push(("client_id", id));
    }
    let (url, header) = if let (Some(endpoint), Some(header)) =
        (env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER"))
    {
        query.push(("api-version", "2019-08-01"));
        let url = format!("{endpoint}?{}", http::form_encode(&query));
        (url, ("x-identity-header", header))
    } else {
        query.push(("api-version", "2018-02-01"));
        let url = format!(
            "http://169.254.169.254/metadata/identity/oauth2/token?{}",
            http::form_encode(&query)
        );
        (url, ("metadata", "true".to_string()))
    };
    let request = Request::new("GET", &url).header(header.0, header.1);
    let response = client.send_once(&request).map_err(|e| e.to_string())?;
    if !response.is_success() {
        return Err(format!("HTTP {}", response.status));
    }
    token_field(&response).ok_or_else(|| "the answer has no access_token".to_string())
}

fn azure_cli_token(resource: &str) -> Result<Zeroizing<String>, String> {
    let output = std::process::Command::new("az")
        .args([
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
            resource,
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|_| "`az` is not installed".to_string())?;
    if !output.status.success() {
        return Err("`az account get-access-token` failed; run `az login`".into());
    }
    let stdout = Zeroizing::new(output.stdout);
    serde_json::from_slice::<serde_json::Value>(&stdout)
        .ok()
        .and_then(|v| {
            v["accessToken"]
                .as_str()
                .map(|t| Zeroizing::new(t.to_string()))
        })
        .ok_or_else(|| "`az account get-access-token` printed no accessToken".into())
}

fn hint(err: &HttpError) -> &'static str {
    match err.status() {
        None => "check the vault URL and the network",
        Some(401) => "check the Azure credentials (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)",
        Some(403) => "check that the identity may use this key (encrypt/decrypt key permissions or the Key Vault Crypto User role)",
        Some(404) => "check the vault URL, key name and version",
        Some(400) => "for decryption, check that the file was encrypted with this key version",
        _ => "check the vault, key and credentials",
    }
}

struct Api<'a> {
    client: &'a Client,
    tokens: &'a TokenCache,
}

impl Api<'_> {
    fn call(
        &self,
        method: &str,
        vault_url: &str,
        path: &str,
        payload: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let token = self.tokens.get(self.client, &resource_for(vault_url))?;
        let url = format!(
            "{}/keys/{path}?api-version={API_VERSION}",
            request_base(vault_url)
        );
        let mut request = Request::new(method, &url);
        if let Some(p) = payload {
            request = request.json(&p);
        }
        let request = request.header("authorization", format!("Bearer {}", token.as_str()));
        let describe = |e: HttpError| format!("{e}; {}", hint(&e));
        let response = self.client.send(&request, |_| false).map_err(describe)?;
        if !response.is_success() {
            return Err(describe(http::status_error(
                &request,
                &response,
                entra_message,
            )));
        }
        response
            .json()
            .ok_or_else(|| http::shape_error(&request, "the answer is not JSON").to_string())
    }

    fn latest_version(&self, vault_url: &str, name: &str) -> Result<String, String> {
        let answer = self.call("GET", vault_url, name, None)?;
        answer["key"]["kid"]
            .as_str()
            .and_then(|kid| kid.trim_end_matches('/').rsplit('/').next())
            .map(String::from)
            .ok_or_else(|| "the key's answer has no key.kid".to_string())
    }

    fn operate(
        &self,
        vault_url: &str,
        name: &str,
        version: &str,
        op: &str,
        value: &str,
    ) -> Result<Zeroizing<Vec<u8>>, String> {
        let answer = self.call(
            "POST",
            vault_url,
            &format!("{name}/{version}/{op}"),
            Some(serde_json::json!({ "alg": ALGORITHM, "value": value })),
        )?;
        let text = answer["value"].as_str().ok_or("the answer has no value")?;
        decode_b64url(text)
            .map(Zeroizing::new)
            .ok_or_else(|| "the answer's value is not base64url".to_string())
    }
}

/// Key Vault writes unpadded base64url; accept padding too.
fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    B64URL.decode(text.trim().trim_end_matches('=')).ok()
}

fn failed(key: String, message: String) -> KeyError {
    KeyError::Failed {
        backend: BACKEND,
        key,
        message,
    }
}

pub struct AzureKvKey {
    pub vault_url: String,
    pub name: String,
    /// Empty until the first wrap asks the vault for the latest version.
    pub version: Mutex<String>,
    http: Client,
    tokens: TokenCache,
}

impl AzureKvKey {
    pub fn new(vault_url: &str, name: &str, version: &str) -> AzureKvKey {
        AzureKvKey {
            vault_url: vault_url.trim_end_matches('/').to_string(),
            name: name.to_string(),
            version: Mutex::new(version.to_string()),
            http: Client::new(),
            tokens: TokenCache::default(),
        }
    }

    fn api(&self) -> Api<'_> {
        Api {
            client: &self.http,
            tokens: &self.tokens,
        }
    }
}

impl MasterKey for AzureKvKey {
    fn type_id(&self) -> &'static str {
        BACKEND
    }

    fn identity(&self) -> String {
        format!(
            "{}/keys/{}/{}",
            self.vault_url,
            self.name,
            self.version.lock().expect("version lock")
        )
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        let api = self.api();
        let mut version = self.version.lock().expect("version lock").clone();
        if version.is_empty() {
            version = api
                .latest_version(&self.vault_url, &self.name)
                .map_err(|m| {
                    failed(
                        self.identity(),
                        format!("failed to fetch the key's latest version: {m}"),
                    )
                })?;
            *self.version.lock().expect("version lock") = version.clone();
        }
        let result = api
            .operate(
                &self.vault_url,
                &self.name,
                &version,
                "encrypt",
                &B64URL.encode(secret),
            )
            .map_err(|m| {
                failed(
                    self.identity(),
                    format!("failed to encrypt the data key with Azure Key Vault: {m}"),
                )
            })?;
        Ok(KeyStanza::AzureKv(AzureKvStanza {
            vault_url: self.vault_url.clone(),
            name: self.name.clone(),
            version,
            created_at: crate::compat::rfc3339::now_rfc3339(),
            enc: B64URL.encode(&result[..]),
        }))
    }
}

#[derive(Default)]
pub struct AzureKvUnwrapper {
    http: OnceLock<Client>,
    tokens: TokenCache,
}

impl AzureKvUnwrapper {
    pub fn from_env() -> AzureKvUnwrapper {
        AzureKvUnwrapper::default()
    }
}

impl KeyUnwrapper for AzureKvUnwrapper {
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let KeyStanza::AzureKv(k) = stanza else {
            return None;
        };
        let api = Api {
            client: self.http.get_or_init(Client::new),
            tokens: &self.tokens,
        };
        let result = decode_b64url(&k.enc)
            .ok_or_else(|| "the stored encrypted data key is not base64url".to_string())
            .and_then(|raw| {
                api.operate(
                    &k.vault_url,
                    &k.name,
                    &k.version,
                    "decrypt",
                    &B64URL.encode(raw),
                )
            })
            .map_err(|m| {
                failed(
                    stanza.identity(),
                    format!("failed to decrypt the data key with Azure Key Vault: {m}"),
                )
            });
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_by_cloud() {
        assert_eq!(
            resource_for("https://myvault.vault.azure.net"),
            "https://vault.azure.net"
        );
        assert_eq!(
            resource_for("https://v.vault.azure.cn/"),
            "https://vault.azure.cn"
        );
        assert_eq!(
            resource_for("https://h.managedhsm.azure.net"),
            "https://managedhsm.azure.net"
        );
    }

    #[test]
    fn error_shapes() {
        let kv = serde_json::json!({"error": {"code": "Forbidden", "message": "The user, group or application does not have keys encrypt permission"}});
        assert!(entra_message(&kv)
            .unwrap()
            .starts_with("Forbidden: The user"));
        let aad = serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"});
        assert_eq!(
            entra_message(&aad).unwrap(),
            "invalid_client: AADSTS7000215: Invalid client secret provided."
        );
    }

    #[test]
    fn padded_and_unpadded() {
        assert_eq!(decode_b64url("AQID").unwrap(), vec![1, 2, 3]);
        assert_eq!(decode_b64url("AQ==").unwrap(), vec![1]);
    }
}
