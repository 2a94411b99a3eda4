//! AWS KMS master keys: `TrentService.Encrypt`/`Decrypt` over the JSON 1.1 protocol, signed with
//! SigV4, with credentials from the standard chain and an optional STS role, as sops does it.

use super::credentials::Credentials;
use super::sign::sign_request;
use crate::keys::http::{self, env, Client, HttpError, Request, Response};
use crate::keys::{KeyError, KeyUnwrapper, MasterKey};
use crate::metadata::{KeyStanza, KmsStanza};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use zeroize::Zeroizing;

const BACKEND: &str = super::TYPE_ID;

/// sops's ARN pattern; the region is the greedy group before `:ACCOUNT:key|alias/`.
fn arn_regex() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$").expect("valid regex")
    })
}

/// The region named in a KMS key ARN.
pub fn region_of(arn: &str) -> Option<&str> {
    arn_regex()
        .captures(arn)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

fn dns_suffix(arn: &str) -> &'static str {
    if arn.starts_with("arn:aws-cn:") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// The endpoint of another AWS service (S3 for `publish`), with the same overrides.
pub fn service_endpoint(service: &str, region: &str) -> String {
    endpoint(service, region, "")
}

/// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else the regional endpoint.
fn endpoint(service: &str, region: &str, arn: &str) -> String {
    let specific = format!("AWS_ENDPOINT_URL_{}", service.to_uppercase());
    let base = env(&specific)
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://{service}.{region}.{}", dns_suffix(arn)));
    let base = base.trim_end_matches('/');
    // SigV4 canonicalises an empty path as `/`; sending it explicitly keeps the two in step.
    if base.matches('/').count() <= 2 {
        format!("{base}/")
    } else {
        base.to_string()
    }
}

/// A signed KMS JSON-protocol client for one region and one set of credentials.
pub struct KmsClient<'a> {
    pub http: &'a Client,
    pub region: String,
    pub endpoint: String,
    pub credentials: Credentials,
}

impl KmsClient<'_> {
    /// Calls `TrentService.<action>` with `body`; returns the parsed answer or an error naming
    /// the endpoint, the status and the service's error type and message.
    pub fn call(
        &self,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, HttpError> {
        let payload = serde_json::to_vec(body).expect("a JSON value serializes");
        let mut headers = vec![
            (
                "content-type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
            ("x-amz-target".to_string(), format!("TrentService.{action}")),
        ];
        let request_for_errors = Request::new("POST", &self.endpoint);
        sign_request(
            &self.credentials,
            &self.region,
            "kms",
            "POST",
            &self.endpoint,
            &mut headers,
            &payload,
        )
        .map_err(|reason| http::shape_error(&request_for_errors, reason))?;
        let mut request = Request::new("POST", &self.endpoint).body(payload);
        request.headers = headers;
        let response = self.http.send(&request, is_throttled)?;
        if !response.is_success() {
            return Err(http::status_error(&request, &response, aws_message));
        }
        response
            .json()
            .ok_or_else(|| http::shape_error(&request, "the answer is not JSON"))
    }
}

fn is_throttled(r: &Response) -> bool {
    r.status == 400
        && r.json()
            .and_then(|v| aws_type(&v))
            .is_some_and(|t| t.contains("Throttling") || t == "LimitExceededException")
}

fn aws_type(v: &serde_json::Value) -> Option<String> {
    let t = v.get("__type").or_else(|| v.get("code"))?.as_str()?;
    Some(t.rsplit('#').next().unwrap_or(t).to_string())
}

fn aws_message(v: &serde_json::Value) -> Option<String> {
    let kind = aws_type(v);
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(|m| m.as_str());
    match (kind, message) {
        (Some(k), Some(m)) => Some(format!("{k}: {m}")),
        (Some(k), None) => Some(k),
        (None, Some(m)) => Some(m.to_string()),
        (None, None) => None,
    }
}

/// What to check, by the kind of failure.
fn hint(err: &HttpError) -> &'static str {
    let text = err.to_string();
    let has = |s: &str| text.contains(s);
    if matches!(err, HttpError::Transport { .. }) {
        "check the network, the region in the ARN, and AWS_ENDPOINT_URL/AWS_ENDPOINT_URL_KMS"
    } else if has("UnrecognizedClient")
        || has("InvalidSignature")
        || has("InvalidClientTokenId")
        || has("ExpiredToken")
        || has("SignatureDoesNotMatch")
        || has("security token")
    {
        "check the AWS credentials (environment, AWS_PROFILE/--aws-profile, role)"
    } else if has("AccessDenied") || err.status() == Some(403) {
        "check that the credentials may use this key (kms:Encrypt/kms:Decrypt in the key and IAM policies)"
    } else if has("NotFound") {
        "check the key ARN and its region"
    } else if has("InvalidCiphertext") {
        "the stored data key does not belong to this key, or the encryption context differs"
    } else {
        "check the key ARN, region, credentials and permissions"
    }
}

/// Credentials resolved once per (profile, role) and region, shared by every key using them.
#[derive(Default)]
struct CredentialCache(Mutex<HashMap<(String, String, String), Credentials>>);

impl CredentialCache {
    fn get(
        &self,
        client: &Client,
        arn: &str,
        region: &str,
        profile: &str,
        role: &str,
    ) -> Result<Credentials, String> {
        let cache_key = (profile.to_string(), role.to_string(), region.to_string());
        if let Some(c) = self.0.lock().expect("cache lock").get(&cache_key) {
            return Ok(c.clone());
        }
        let sts_endpoint = endpoint("sts", region, arn);
        let ctx = super::credentials::Context {
            client,
            region,
            sts_endpoint: &sts_endpoint,
        };
        let mut creds = super::credentials::resolve(Some(profile).filter(|p| !p.is_empty()), &ctx)?;
        if !role.is_empty() {
            creds = super::sts::assume_role(&ctx, &creds, role, &super::sts::session_name(), None)?;
        }
        self.0
            .lock()
            .expect("cache lock")
            .insert(cache_key, creds.clone());
        Ok(creds)
    }
}

/// One `--kms` key: ARN, optional role to assume, encryption context and profile.
pub struct KmsKey {
    pub arn: String,
    pub role: String,
    pub context: BTreeMap<String, String>,
    pub aws_profile: String,
    http: Client,
    cache: CredentialCache,
}

impl KmsKey {
    pub fn new(
        arn: &str,
        role: &str,
        context: BTreeMap<String, String>,
        aws_profile: &str,
    ) -> Result<KmsKey, KeyError> {
        let arn = arn.replace(' ', "");
        if region_of(&arn).is_none() {
            return Err(KeyError::Invalid {
                backend: BACKEND,
                key: arn,
                reason: "not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID or alias/NAME)"
                    .into(),
            });
        }
        Ok(KmsKey {
            arn,
            role: role.to_string(),
            context,
            aws_profile: aws_profile.to_string(),
            http: Client::new(),
            cache: CredentialCache::default(),
        })
    }

    fn stanza_identity(&self) -> String {
        KeyStanza::Kms(KmsStanza {
            arn: self.arn.clone(),
            role: self.role.clone(),
            context: self.context.clone(),
            created_at: String::new(),
            enc: String::new(),
            aws_profile: self.aws_profile.clone(),
        })
        .identity()
    }
}

fn client_for<'a>(
    http: &'a Client,
    cache: &CredentialCache,
    arn: &str,
    role: &str,
    profile: &str,
) -> Result<KmsClient<'a>, String> {
    let region = region_of(arn)
        .ok_or("not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")?
        .to_string();
    let credentials = cache.get(http, arn, &region, profile, role)?;
    Ok(KmsClient {
        http,
        endpoint: endpoint("kms", &region, arn),
        region,
        credentials,
    })
}

fn failed(key: String, message: String) -> KeyError {
    KeyError::Failed {
        backend: BACKEND,
        key,
        message,
    }
}

impl MasterKey for KmsKey {
    fn type_id(&self) -> &'static str {
        BACKEND
    }

    fn identity(&self) -> String {
        self.stanza_identity()
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        let fail = |m: String| failed(self.stanza_identity(), m);
        let client = client_for(
            &self.http,
            &self.cache,
            &self.arn,
            &self.role,
            &self.aws_profile,
        )
        .map_err(fail)?;
        let body = serde_json::json!({
            "KeyId": self.arn,
            "Plaintext": B64.encode(secret),
            "EncryptionContext": self.context,
        });
        let answer = client.call("Encrypt", &body).map_err(|e| {
            fail(format!(
                "failed to encrypt the data key with AWS KMS: {e}; {}",
                hint(&e)
            ))
        })?;
        let blob = answer["CiphertextBlob"]
            .as_str()
            .filter(|b| B64.decode(b).is_ok())
            .ok_or_else(|| fail("the KMS answer has no CiphertextBlob".into()))?;
        Ok(KeyStanza::Kms(KmsStanza {
            arn: self.arn.clone(),
            role: self.role.clone(),
            context: self.context.clone(),
            created_at: crate::compat::rfc3339::now_rfc3339(),
            enc: blob.to_string(),
            aws_profile: self.aws_profile.clone(),
        }))
    }
}

/// Decrypts `kms` stanzas with whatever credentials the environment (or the stanza's profile
/// and role) gives.
#[derive(Default)]
pub struct KmsUnwrapper {
    http: OnceLock<Client>,
    cache: CredentialCache,
}

impl KmsUnwrapper {
    pub fn from_env() -> KmsUnwrapper {
        KmsUnwrapper::default()
    }

    fn decrypt(&self, k: &KmsStanza) -> Result<Zeroizing<Vec<u8>>, String> {
        let blob = B64
            .decode(k.enc.trim())
            .map_err(|_| "the stored encrypted data key is not valid base64".to_string())?;
        let http = self.http.get_or_init(Client::new);
        let client = client_for(http, &self.cache, &k.arn, &k.role, &k.aws_profile)?;
        let body = serde_json::json!({
            "KeyId": k.arn,
            "CiphertextBlob": B64.encode(blob),
            "EncryptionContext": k.context,
        });
        let answer = client.call("Decrypt", &body).map_err(|e| {
            format!(
                "failed to decrypt the data key with AWS KMS: {e}; {}",
                hint(&e)
            )
        })?;
        let plaintext = answer["Plaintext"]
            .as_str()
            .ok_or("the KMS answer has no Plaintext")?;
        B64.decode(plaintext)
            .map(Zeroizing::new)
            .map_err(|_| "the KMS answer's Plaintext is not base64".to_string())
    }
}

impl KeyUnwrapper for KmsUnwrapper {
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let KeyStanza::Kms(k) = stanza else {
            return None;
        };
        Some(self.decrypt(k).map_err(|m| failed(stanza.identity(), m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_from_arn() {
        assert_eq!(
            region_of("arn:aws:kms:eu-west-1:123456789012:key/abc"),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of("arn:aws-us-gov:kms:us-gov-west-1:1:alias/x"),
            Some("us-gov-west-1")
        );
        assert_eq!(region_of("arn:aws:s3:::bucket"), None);
        assert!(KmsKey::new("nope", "", BTreeMap::new(), "").is_err());
    }

    #[test]
    fn identity_is_sops_to_string() {
        let arn = "arn:aws:kms:us-east-1:1:key/k";
        let id = |role: &str, ctx: &[(&str, &str)], profile: &str| {
            let context = ctx
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            KmsKey::new(arn, role, context, profile).unwrap().identity()
        };
        assert_eq!(id("", &[], ""), arn);
        assert_eq!(id("r", &[], ""), format!("{arn}+r"));
        assert_eq!(
            id("", &[("b", "2"), ("a", "1")], ""),
            format!("{arn}|a:1,b:2")
        );
        assert_eq!(id("", &[], "dev"), format!("{arn}||dev"));
        assert_eq!(id("r", &[("a", "1")], "dev"), format!("{arn}+r|a:1|dev"));
    }

    #[test]
    fn error_message_shapes() {
        let v = serde_json::json!({"__type": "com.amazonaws.kms#NotFoundException", "message": "Key 'x' does not exist"});
        assert_eq!(
            aws_message(&v).unwrap(),
            "NotFoundException: Key 'x' does not exist"
        );
    }

    #[test]
    fn signed_encrypt_request_shape() {
        let server = http::test_server::start(|r| {
            let body = r.json();
            (
                200,
                serde_json::json!({"CiphertextBlob": body["Plaintext"], "KeyId": body["KeyId"]})
                    .to_string(),
            )
        });
        let http = Client::new();
        let client = KmsClient {
            http: &http,
            region: "eu-west-1".into(),
            endpoint: format!("{}/", server.base),
            credentials: Credentials::new("AKIDEXAMPLE", "secret", Some("token")),
        };
        client
            .call(
                "Encrypt",
                &serde_json::json!({"KeyId": "k", "Plaintext": "AAAA"}),
            )
            .unwrap();
        let seen = server.requests.lock().unwrap()[0].clone();
        assert_eq!(seen.header("x-amz-target"), Some("TrentService.Encrypt"));
        assert_eq!(
            seen.header("content-type"),
            Some("application/x-amz-json-1.1")
        );
        assert_eq!(seen.header("x-amz-security-token"), Some("token"));
        let auth = seen.header("authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/eu-west-1/kms/aws4_request"), "{auth}");
    }
}
