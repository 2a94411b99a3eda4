//! Google Cloud KMS master keys over the documented REST API
//! (`POST https://cloudkms.googleapis.com/v1/{name}:encrypt` / `:decrypt`), with a bearer token
//! from sops's variables (`GOOGLE_CREDENTIALS`, `GOOGLE_OAUTH_ACCESS_TOKEN`), else Application
//! Default Credentials: a service-account or authorized-user JSON file, or the metadata server.
//!
//! `SOPS_GCP_KMS_ENDPOINT` (or `RSOPS_GCP_KMS_ENDPOINT`) replaces the API base URL and
//! `SOPS_GCP_KMS_UNIVERSE_DOMAIN` picks another Google Cloud universe, as in sops 3.13.

use crate::keys::http::{self, env, Client, HttpError, Request, Response};
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::metadata::{GcpKmsStanza, KeyStanza};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine;
use std::sync::{Mutex, OnceLock};
use zeroize::Zeroizing;

const BACKEND: &str = super::TYPE_ID;
const SCOPE: &str = "https://www.googleapis.com/auth/cloudkms";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

fn resource_regex() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
            .expect("valid regex")
    })
}

fn api_base() -> String {
    api_base_from(
        env("RSOPS_GCP_KMS_ENDPOINT").or_else(|| env("SOPS_GCP_KMS_ENDPOINT")),
        env("SOPS_GCP_KMS_UNIVERSE_DOMAIN"),
    )
}

/// sops 3.13's order (`gcpkms/keysource.go`): an endpoint wins over a universe domain, which
/// names `cloudkms.DOMAIN`. An endpoint without a scheme (`host:port`, as gRPC takes it) is
/// reached over HTTPS. `SOPS_GCP_KMS_CLIENT_TYPE` (grpc or rest) is accepted and needs no
/// reading: rsops always speaks the REST API, whose requests and results are the same keys'.
fn api_base_from(endpoint: Option<String>, universe_domain: Option<String>) -> String {
    let base = match (endpoint, universe_domain) {
        (Some(endpoint), _) if endpoint.contains("://") => endpoint,
        (Some(endpoint), _) => format!("https://{endpoint}"),
        (None, Some(domain)) => format!("https://cloudkms.{}", domain.trim_matches('.')),
        (None, None) => "https://cloudkms.googleapis.com".to_string(),
    };
    base.trim_end_matches('/').to_string()
}

/// A cached access token, shared by every key in one run.
#[derive(Default)]
struct TokenCache(Mutex<Option<Zeroizing<String>>>);

impl TokenCache {
    fn get(&self, client: &Client) -> Result<Zeroizing<String>, String> {
        let mut slot = self.0.lock().expect("token lock");
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let token = access_token(client, SCOPE)?;
        *slot = Some(token.clone());
        Ok(token)
    }
}

/// An OAuth2 access token for `scope` from the credentials the KMS backend uses (in the same
/// order); `publish` to GCS asks for a Cloud Storage scope with it.
pub fn access_token(client: &Client, scope: &str) -> Result<Zeroizing<String>, String> {
    if let Some(creds) = env("GOOGLE_CREDENTIALS") {
        // sops: a path if it names a file, else the JSON itself.
        let json = if std::path::Path::new(&creds).is_file() {
            read_json_file(&creds, "GOOGLE_CREDENTIALS")?
        } else {
            Zeroizing::new(creds)
        };
        return token_from_credentials_json(client, &json, "GOOGLE_CREDENTIALS", scope);
    }
    if let Some(token) = env("GOOGLE_OAUTH_ACCESS_TOKEN") {
        return Ok(Zeroizing::new(token.trim().to_string()));
    }
    if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") {
        let json = read_json_file(&path, "GOOGLE_APPLICATION_CREDENTIALS")?;
        return token_from_credentials_json(client, &json, "GOOGLE_APPLICATION_CREDENTIALS", scope);
    }
    let gcloud_adc = env("CLOUDSDK_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| http::home_dir().map(|h| h.join(".config/gcloud")))
        .map(|d| d.join("application_default_credentials.json"));
    if let Some(path) = gcloud_adc.filter(|p| p.is_file()) {
        let json = read_json_file(
            &path.to_string_lossy(),
            "gcloud application default credentials",
        )?;
        return token_from_credentials_json(
            client,
            &json,
            "gcloud application default credentials",
            scope,
        );
    }
    metadata_token(scope).map_err(|reason| {
        format!("no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS (service account JSON), GOOGLE_CREDENTIALS or GOOGLE_OAUTH_ACCESS_TOKEN, or run on Google Cloud (metadata server: {reason})")
    })
}

fn read_json_file(path: &str, what: &str) -> Result<Zeroizing<String>, String> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| format!("cannot read {what} ({path}): {e}"))
}

fn token_from_credentials_json(
    client: &Client,
    text: &str,
    what: &str,
    scope: &str,
) -> Result<Zeroizing<String>, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|_| format!("{what} is not valid JSON"))?;
    let field = |k: &str| json[k].as_str().filter(|s| !s.is_empty());
    match field("type") {
        Some("service_account") => {
            let email = field("client_email").ok_or_else(|| format!("{what}: no client_email"))?;
            let pem = field("private_key").ok_or_else(|| format!("{what}: no private_key"))?;
            let token_uri = field("token_uri").unwrap_or(DEFAULT_TOKEN_URI);
            let assertion = service_account_jwt(email, pem, field("private_key_id"), token_uri, scope)
                .map_err(|e| format!("{what}: {e}"))?;
            oauth_token(
                client,
                token_uri,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", &assertion),
                ],
            )
        }
        Some("authorized_user") => {
            let get = |k: &str| field(k).ok_or_else(|| format!("{what}: no {k}"));
            let token_uri = field("token_uri").unwrap_or(DEFAULT_TOKEN_URI);
            oauth_token(
                client,
                token_uri,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", get("client_id")?),
                    ("client_secret", get("client_secret")?),
                    ("refresh_token", get("refresh_token")?),
                ],
            )
        }
        Some(other) => Err(format!(
            "{what}: credentials of type `{other}` are not supported yet (use a service account key, gcloud user credentials, or GOOGLE_OAUTH_ACCESS_TOKEN)"
        )),
        None => Err(format!("{what}: no `type` field")),
    }
}

/// An RS256-signed JWT for the OAuth 2.0 JWT-bearer grant, as Google documents it.
fn service_account_jwt(
    email: &str,
    pem: &str,
    key_id: Option<&str>,
    audience: &str,
    scope: &str,
) -> Result<String, String> {
    let der = Zeroizing::new(pem_body(pem).ok_or("private_key is not a PEM block")?);
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .map_err(|_| "private_key is not an RSA PKCS#8 key".to_string())?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = key_id {
        header["kid"] = kid.into();
    }
    let claims = serde_json::json!({
        "iss": email, "scope": scope, "aud": audience, "iat": now, "exp": now + 3600,
    });
    let signing_input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing the token request failed".to_string())?;
    Ok(format!("{signing_input}.{}", B64URL.encode(signature)))
}

fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN PRIVATE KEY-----")? + "-----BEGIN PRIVATE KEY-----".len();
    let end = pem[start..].find("-----END PRIVATE KEY-----")? + start;
    let b64: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    B64.decode(b64).ok()
}

fn oauth_message(v: &serde_json::Value) -> Option<String> {
    let e = v.get("error")?;
    if let Some(code) = e.as_str() {
        let desc = v["error_description"].as_str().unwrap_or("");
        return Some(format!("{code}: {desc}"));
    }
    let status = e["status"].as_str().unwrap_or("");
    let message = e["message"].as_str().unwrap_or("");
    Some(format!("{status}: {message}"))
}

fn oauth_token(
    client: &Client,
    token_uri: &str,
    form: &[(&str, &str)],
) -> Result<Zeroizing<String>, String> {
    let request = Request::new("POST", token_uri).form(form);
    let response = client
        .send(&request, |_| false)
        .map_err(|e| format!("getting an access token failed: {e}"))?;
    if !response.is_success() {
        return Err(format!(
            "getting an access token failed: {}; check the credentials file",
            http::status_error(&request, &response, oauth_message)
        ));
    }
    token_in(&response).ok_or_else(|| "the token endpoint's answer has no access_token".to_string())
}

fn metadata_token(scope: &str) -> Result<Zeroizing<String>, String> {
    // Off Google Cloud the metadata host does not resolve or answer; fail fast.
    let client = Client::with_timeout(std::time::Duration::from_secs(2));
    let host = env("GCE_METADATA_HOST").unwrap_or_else(|| "metadata.google.internal".to_string());
    let url = format!(
        "http://{host}/computeMetadata/v1/instance/service-accounts/default/token?scopes={}",
        http::percent_encode(scope)
    );
    let request = Request::new("GET", &url).header("metadata-flavor", "Google");
    let response = client.send_once(&request).map_err(|e| e.to_string())?;
    if !response.is_success() {
        return Err(format!("HTTP {}", response.status));
    }
    token_in(&response).ok_or_else(|| "the answer has no access_token".to_string())
}

/// The `access_token` of an OAuth token answer (token endpoint or metadata server).
fn token_in(response: &Response) -> Option<Zeroizing<String>> {
    let body = response.json()?;
    body["access_token"]
        .as_str()
        .map(|t| Zeroizing::new(t.to_string()))
}

fn hint(err: &HttpError) -> &'static str {
    match err.status() {
        None => "check the network (RSOPS_GCP_KMS_ENDPOINT overrides the API address)",
        Some(401) => "check the Google credentials",
        Some(403) => {
            "check that the account has roles/cloudkms.cryptoKeyEncrypterDecrypter on this key"
        }
        Some(404) => "check the key's resource ID (projects/P/locations/L/keyRings/R/cryptoKeys/K)",
        Some(400) => "for decryption, check that the file was encrypted with this key",
        _ => "check the key and credentials",
    }
}

/// `POST {base}/v1/{resource}:{op}` with a bearer token; returns the JSON answer.
fn call(
    client: &Client,
    tokens: &TokenCache,
    resource: &str,
    op: &str,
    payload: serde_json::Value,
) -> Result<serde_json::Value, String> {
    if !resource_regex().is_match(resource) {
        return Err(format!("no valid resource ID found in {resource:?}"));
    }
    let token = tokens.get(client)?;
    let url = format!("{}/v1/{resource}:{op}", api_base());
    let request = Request::new("POST", &url)
        .json(&payload)
        .header("authorization", format!("Bearer {}", token.as_str()));
    let describe = |e: HttpError| format!("{e}; {}", hint(&e));
    let response = client.send(&request, |_| false).map_err(describe)?;
    if !response.is_success() {
        return Err(describe(http::status_error(
            &request,
            &response,
            oauth_message,
        )));
    }
    response
        .json()
        .ok_or_else(|| http::shape_error(&request, "the answer is not JSON").to_string())
}

fn failed(key: &str, message: String) -> KeyError {
    KeyError::Failed {
        backend: BACKEND,
        key: key.to_string(),
        message,
    }
}

pub struct GcpKmsKey {
    pub resource_id: String,
    http: Client,
    tokens: TokenCache,
}

impl GcpKmsKey {
    pub fn new(resource_id: &str) -> Result<GcpKmsKey, KeyError> {
        let resource_id = resource_id.replace(' ', "");
        if !resource_regex().is_match(&resource_id) {
            return Err(KeyError::Invalid {
                backend: BACKEND,
                key: resource_id,
                reason: "not a key resource ID (projects/P/locations/L/keyRings/R/cryptoKeys/K)"
                    .into(),
            });
        }
        Ok(GcpKmsKey {
            resource_id,
            http: Client::new(),
            tokens: TokenCache::default(),
        })
    }
}

impl MasterKey for GcpKmsKey {
    fn type_id(&self) -> &'static str {
        BACKEND
    }

    fn identity(&self) -> String {
        self.resource_id.clone()
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        let fail = |m: String| {
            failed(
                &self.resource_id,
                format!("failed to encrypt the data key with GCP KMS: {m}"),
            )
        };
        let answer = call(
            &self.http,
            &self.tokens,
            &self.resource_id,
            "encrypt",
            serde_json::json!({ "plaintext": B64.encode(secret) }),
        )
        .map_err(fail)?;
        let ciphertext = answer["ciphertext"]
            .as_str()
            .filter(|c| B64.decode(c).is_ok())
            .ok_or_else(|| fail("the answer has no ciphertext".into()))?;
        Ok(KeyStanza::GcpKms(GcpKmsStanza {
            resource_id: self.resource_id.clone(),
            created_at: crate::compat::rfc3339::now_rfc3339(),
            enc: ciphertext.to_string(),
        }))
    }
}

#[derive(Default)]
pub struct GcpKmsUnwrapper {
    http: OnceLock<Client>,
    tokens: TokenCache,
}

impl GcpKmsUnwrapper {
    pub fn from_env() -> GcpKmsUnwrapper {
        GcpKmsUnwrapper::default()
    }
}

impl KeyUnwrapper for GcpKmsUnwrapper {
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let KeyStanza::GcpKms(k) = stanza else {
            return None;
        };
        let client = self.http.get_or_init(Client::new);
        let result = B64
            .decode(k.enc.trim())
            .map_err(|_| "the stored encrypted data key is not valid base64".to_string())
            .and_then(|_| {
                call(
                    client,
                    &self.tokens,
                    &k.resource_id,
                    "decrypt",
                    serde_json::json!({ "ciphertext": k.enc.trim() }),
                )
            })
            .and_then(|answer| {
                let text = answer["plaintext"]
                    .as_str()
                    .ok_or("the answer has no plaintext")?;
                B64.decode(text)
                    .map(Zeroizing::new)
                    .map_err(|_| "the answer's plaintext is not base64".to_string())
            })
            .map_err(|m| {
                failed(
                    &k.resource_id,
                    format!("failed to decrypt the data key with GCP KMS: {m}"),
                )
            });
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway RSA key for signing test JWTs (test-only, never used anywhere else).
    const TEST_KEY: &str = include_str!("../../../tests/fixtures/gcp-test-sa-key.pem");

    #[test]
    fn endpoint_and_universe_domain_like_sops_313() {
        let base = |e: Option<&str>, u: Option<&str>| {
            api_base_from(e.map(String::from), u.map(String::from))
        };
        assert_eq!(base(None, None), "https://cloudkms.googleapis.com");
        assert_eq!(
            base(None, Some("example.goog")),
            "https://cloudkms.example.goog"
        );
        assert_eq!(
            base(Some("kms.internal:8443"), None),
            "https://kms.internal:8443"
        );
        assert_eq!(
            base(Some("http://127.0.0.1:9/"), Some("example.goog")),
            "http://127.0.0.1:9"
        );
    }

    #[test]
    fn resource_ids() {
        assert!(GcpKmsKey::new("projects/p/locations/global/keyRings/r/cryptoKeys/k").is_ok());
        assert!(GcpKmsKey::new("projects/p/keyRings/r/cryptoKeys/k").is_err());
    }

    #[test]
    fn service_account_jwt_verifies() {
        let jwt = service_account_jwt(
            "sa@p.iam.gserviceaccount.com",
            TEST_KEY,
            Some("kid1"),
            "https://oauth2.googleapis.com/token",
            SCOPE,
        )
        .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], "kid1");
        let claims: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
        let der = pem_body(TEST_KEY).unwrap();
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            pair.public().as_ref(),
        );
        public
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &B64URL.decode(parts[2]).unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn error_shapes() {
        let api = serde_json::json!({"error": {"code": 403, "message": "Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied", "status": "PERMISSION_DENIED"}});
        assert!(oauth_message(&api)
            .unwrap()
            .starts_with("PERMISSION_DENIED: Permission"));
        let oauth = serde_json::json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."});
        assert_eq!(
            oauth_message(&oauth).unwrap(),
            "invalid_grant: Invalid JWT Signature."
        );
    }
}
