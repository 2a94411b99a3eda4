//! GCP KMS, Azure Key Vault and HuaweiCloud KMS through the rsops CLI against a local HTTP server
//! that replays the documented REST shapes (token endpoints, `:encrypt`/`:decrypt`,
//! `keys/…/encrypt`, `kms/encrypt-data`). No emulator of these services exists here, so this
//! checks our side of the documented contract, not the services themselves.
#![cfg(all(feature = "gcp-kms", feature = "azure-kv", feature = "hckms"))]

mod common;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const PLAIN: &str = "api_key: abc123\nnested:\n    count: 1\n";
const GCP_KEY: &str = "projects/p1/locations/global/keyRings/ring/cryptoKeys/key1";
const AZ_SECRET: &str = "azure-client-secret-value";

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn form(&self) -> HashMap<String, String> {
        String::from_utf8(self.body.clone())
            .unwrap()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), unpercent(v)))
            .collect()
    }
}

fn unpercent(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

type Handler = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// A small HTTP/1.1 server on 127.0.0.1 (threads end with the test process; it holds no child
/// process, so there is nothing to kill).
struct Fake {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn serve(handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let handler: Arc<Handler> = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&log);
            let handler = Arc::clone(&handler);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let mut headers = HashMap::new();
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.insert(k.trim().to_lowercase(), v.trim().to_string());
                        }
                    }
                    let len = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    let req = Seen {
                        method,
                        path,
                        headers,
                        body,
                    };
                    let (status, answer) = handler(&req);
                    log.lock().unwrap().push(req);
                    let _ = write!(
                        out,
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                }
            });
        }
    });
    Fake { base, seen }
}

/// The fake services' "encryption": reversible and visibly not the identity.
fn scramble(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b ^ 0x5a).collect()
}

fn rsops(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rsops"));
    for (k, _) in std::env::vars() {
        if [
            "AWS_",
            "VAULT_",
            "SOPS_",
            "GOOGLE_",
            "AZURE_",
            "IDENTITY_",
            "GCE_",
            "RSOPS_",
        ]
        .iter()
        .any(|p| k.starts_with(p))
        {
            cmd.env_remove(&k);
        }
    }
    cmd.env("HOME", dir.join("home"))
        // Keep credential discovery from probing real metadata endpoints.
        .env("GCE_METADATA_HOST", "127.0.0.1:9")
        .env("PATH", "/usr/bin:/bin")
        .envs(envs.iter().copied())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "rsops failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn workdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("home")).unwrap();
    std::fs::write(dir.path().join("plain.yaml"), PLAIN).unwrap();
    let p = dir.path().to_path_buf();
    (dir, p)
}

/// Cloud KMS: `POST /v1/{name}:encrypt {plaintext}` → `{name, ciphertext, …}` and
/// `:decrypt {ciphertext}` → `{plaintext}`, with `authorization: Bearer`; token endpoint per
/// the OAuth 2.0 JWT-bearer grant.
fn gcp_server(expected_token: &'static str) -> Fake {
    serve(move |r| {
        if r.path == "/token" {
            return (
                200,
                serde_json::json!({"access_token": "ya29.from-jwt", "expires_in": 3599, "token_type": "Bearer"}).to_string(),
            );
        }
        if r.headers.get("authorization").map(String::as_str)
            != Some(&format!("Bearer {expected_token}"))
        {
            return (
                401,
                r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#.into(),
            );
        }
        let body = r.json();
        if r.path == format!("/v1/{GCP_KEY}:encrypt") {
            let pt = B64.decode(body["plaintext"].as_str().unwrap()).unwrap();
            (
                200,
                serde_json::json!({
                    "name": format!("{GCP_KEY}/cryptoKeyVersions/1"),
                    "ciphertext": B64.encode(scramble(&pt)),
                    "ciphertextCrc32c": "123",
                    "verifiedPlaintextCrc32c": false,
                    "protectionLevel": "SOFTWARE"
                })
                .to_string(),
            )
        } else if r.path == format!("/v1/{GCP_KEY}:decrypt") {
            let ct = B64.decode(body["ciphertext"].as_str().unwrap()).unwrap();
            (
                200,
                serde_json::json!({"plaintext": B64.encode(scramble(&ct)), "plaintextCrc32c": "1", "usedPrimary": true, "protectionLevel": "SOFTWARE"}).to_string(),
            )
        } else {
            (
                404,
                r#"{"error":{"code":404,"message":"CryptoKey not found.","status":"NOT_FOUND"}}"#
                    .into(),
            )
        }
    })
}

#[test]
fn gcp_service_account_round_trip() {
    let server = gcp_server("ya29.from-jwt");
    let (_tmp, dir) = workdir();
    let pem = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gcp-test-sa-key.pem"),
    )
    .unwrap();
    let sa = serde_json::json!({
        "type": "service_account", "project_id": "p1", "private_key_id": "kid-1",
        "private_key": pem, "client_email": "sops@p1.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": format!("{}/token", server.base),
    });
    std::fs::write(dir.join("sa.json"), sa.to_string()).unwrap();
    let envs = [
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            dir.join("sa.json").to_str().unwrap().to_string(),
        ),
        ("RSOPS_GCP_KMS_ENDPOINT", server.base.clone()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let enc = ok(rsops(
        &dir,
        &["encrypt", "--gcp-kms", GCP_KEY, "plain.yaml"],
        &envs,
    ));
    assert!(
        enc.contains(&format!(
            "gcp_kms:\n        - resource_id: {GCP_KEY}\n          created_at: "
        )),
        "{enc}"
    );
    std::fs::write(dir.join("enc.yaml"), &enc).unwrap();
    assert_eq!(ok(rsops(&dir, &["decrypt", "enc.yaml"], &envs)), PLAIN);

    let seen = server.seen.lock().unwrap().clone();
    let token_calls: Vec<&Seen> = seen.iter().filter(|r| r.path == "/token").collect();
    assert_eq!(token_calls.len(), 2, "one token per run");
    let form = token_calls[0].form();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let jwt: Vec<&str> = form["assertion"].split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&B64URL.decode(jwt[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], "sops@p1.iam.gserviceaccount.com");
    assert_eq!(claims["aud"], format!("{}/token", server.base));
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/cloudkms");
    let encrypt = seen.iter().find(|r| r.path.ends_with(":encrypt")).unwrap();
    assert_eq!(encrypt.method, "POST");
    assert_eq!(encrypt.headers["content-type"], "application/json");
    assert_eq!(
        B64.decode(encrypt.json()["plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
}

#[test]
fn gcp_access_token_env_and_errors() {
    let server = gcp_server("static-token");
    let (_tmp, dir) = workdir();
    let base = server.base.clone();
    let envs = [
        ("GOOGLE_OAUTH_ACCESS_TOKEN", "static-token"),
        ("RSOPS_GCP_KMS_ENDPOINT", base.as_str()),
    ];
    let enc = ok(rsops(
        &dir,
        &["encrypt", "plain.yaml"],
        &[&envs[..], &[("SOPS_GCP_KMS_IDS", GCP_KEY)]].concat(),
    ));
    std::fs::write(dir.join("enc.yaml"), &enc).unwrap();
    assert_eq!(ok(rsops(&dir, &["decrypt", "enc.yaml"], &envs)), PLAIN);
    assert!(server
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|r| r.path != "/token"));
    // A token the service refuses: sops's exit code and the service's own words.
    let out = rsops(
        &dir,
        &["decrypt", "enc.yaml"],
        &[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "stale"),
            ("RSOPS_GCP_KMS_ENDPOINT", &base),
        ],
    );
    assert_eq!(out.status.code(), Some(128));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HTTP 401: UNAUTHENTICATED: Request had invalid authentication credentials."),
        "{err}"
    );
    assert!(
        err.contains("check the Google credentials") && !err.contains("stale"),
        "{err}"
    );
    // A malformed resource ID is refused before any request.
    let out = rsops(
        &dir,
        &[
            "encrypt",
            "--gcp-kms",
            "projects/p/keyRings/r",
            "plain.yaml",
        ],
        &envs,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a key resource ID"));
}

/// Key Vault 7.4: `GET /keys/{name}` → `{key: {kid}}`; `POST /keys/{name}/{version}/encrypt`
/// `{alg, value}` → `{kid, value}` (base64url); Entra ID v2.0 token endpoint per tenant.
fn azure_server() -> Fake {
    serve(|r| {
        if r.path.ends_with("/oauth2/v2.0/token") {
            let form = r.form();
            let good = match form.get("client_secret") {
                Some(s) => s == AZ_SECRET,
                None => form.get("client_assertion").map(String::as_str) == Some("federated-jwt"),
            };
            if !good || form["scope"] != "https://vault.azure.net/.default" {
                return (
                    401,
                    serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2"}).to_string(),
                );
            }
            return (
                200,
                r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAi.kv"}"#.into(),
            );
        }
        if r.headers.get("authorization").map(String::as_str) != Some("Bearer eyJ0eXAi.kv") {
            return (401, r#"{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}"#.into());
        }
        let kid = "https://myvault.vault.azure.net/keys/sops-key/0123456789abcdef";
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/keys/sops-key?api-version=7.4") => (
                200,
                serde_json::json!({"key": {"kid": kid, "kty": "RSA", "key_ops": ["encrypt", "decrypt"], "n": "AQAB", "e": "AQAB"}, "attributes": {"enabled": true}}).to_string(),
            ),
            ("POST", "/keys/sops-key/0123456789abcdef/encrypt?api-version=7.4")
            | ("POST", "/keys/sops-key/0123456789abcdef/decrypt?api-version=7.4") => {
                let body = r.json();
                assert_eq!(body["alg"], "RSA-OAEP-256");
                let value = B64URL.decode(body["value"].as_str().unwrap()).unwrap();
                (200, serde_json::json!({"kid": kid, "value": B64URL.encode(scramble(&value))}).to_string())
            }
            _ => (404, r#"{"error":{"code":"KeyNotFound","message":"A key with (name/id) other was not found in this key vault."}}"#.into()),
        }
    })
}

#[test]
fn azure_client_secret_round_trip_pins_version() {
    let server = azure_server();
    let (_tmp, dir) = workdir();
    let envs = [
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_CLIENT_ID", "client-1"),
        ("AZURE_CLIENT_SECRET", AZ_SECRET),
        ("AZURE_AUTHORITY_HOST", server.base.as_str()),
        ("RSOPS_AZURE_KEYVAULT_ENDPOINT", server.base.as_str()),
    ];
    let enc = ok(rsops(
        &dir,
        &[
            "encrypt",
            "--azure-kv",
            "https://myvault.vault.azure.net/keys/sops-key",
            "plain.yaml",
        ],
        &envs,
    ));
    assert!(
        enc.contains("azure_kv:\n        - vault_url: https://myvault.vault.azure.net\n          name: sops-key\n          version: 0123456789abcdef\n"),
        "{enc}"
    );
    std::fs::write(dir.join("enc.yaml"), &enc).unwrap();
    assert_eq!(ok(rsops(&dir, &["decrypt", "enc.yaml"], &envs)), PLAIN);
    let seen = server.seen.lock().unwrap().clone();
    let token = seen
        .iter()
        .find(|r| r.path == "/tenant-1/oauth2/v2.0/token")
        .unwrap();
    let form = token.form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "client-1");
    let enc_value = seen
        .iter()
        .find(|r| r.path.contains("/encrypt"))
        .unwrap()
        .json();
    assert_eq!(
        B64URL
            .decode(enc_value["value"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );

    // Wrong secret: exit 128 on decrypt, the first line of Entra's message, no secret echoed.
    let bad = [
        ("AZURE_CLIENT_SECRET", "wrong-one"),
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_CLIENT_ID", "client-1"),
        ("AZURE_AUTHORITY_HOST", server.base.as_str()),
        ("RSOPS_AZURE_KEYVAULT_ENDPOINT", server.base.as_str()),
    ];
    let out = rsops(&dir, &["decrypt", "enc.yaml"], &bad);
    assert_eq!(out.status.code(), Some(128));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid_client: AADSTS7000215: Invalid client secret provided."),
        "{err}"
    );
    assert!(
        !err.contains("wrong-one") && !err.contains("Trace ID"),
        "{err}"
    );
}

#[test]
fn azure_workload_identity_and_missing_key() {
    let server = azure_server();
    let (_tmp, dir) = workdir();
    std::fs::write(dir.join("federated"), "federated-jwt\n").unwrap();
    let file = dir.join("federated");
    let envs = [
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_CLIENT_ID", "c"),
        ("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap()),
        ("AZURE_AUTHORITY_HOST", server.base.as_str()),
        ("RSOPS_AZURE_KEYVAULT_ENDPOINT", server.base.as_str()),
    ];
    let url = "https://myvault.vault.azure.net/keys/sops-key/0123456789abcdef";
    let enc = ok(rsops(
        &dir,
        &["encrypt", "plain.yaml"],
        &[&envs[..], &[("SOPS_AZURE_KEYVAULT_URLS", url)]].concat(),
    ));
    std::fs::write(dir.join("enc.yaml"), &enc).unwrap();
    assert_eq!(ok(rsops(&dir, &["decrypt", "enc.yaml"], &envs)), PLAIN);
    let seen = server.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .all(|r| !(r.method == "GET" && r.path.starts_with("/keys/"))),
        "a pinned version needs no lookup"
    );
    let form = seen[0].form();
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    let out = rsops(
        &dir,
        &[
            "encrypt",
            "--azure-kv",
            "https://myvault.vault.azure.net/keys/other/1",
            "plain.yaml",
        ],
        &envs,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HTTP 404: KeyNotFound")
            && err.contains("check the vault URL, key name and version"),
        "{err}"
    );
}

const HC_PROJECT: &str = "proj-0123";
const HC_AK: &str = "HCAKEXAMPLE";
const HC_SK: &str = "hc-secret-key-value";
const HC_KEY1: &str = "tr-west-1:0a1b2c3d-0000-4000-8000-000000000001";
const HC_KEY2: &str = "tr-west-1:0a1b2c3d-0000-4000-8000-000000000002";
const HC_KEY3: &str = "tr-west-1:0a1b2c3d-0000-4000-8000-000000000003";

/// HuaweiCloud's SDK-HMAC-SHA256, recomputed here from the documented recipe (canonical request
/// → string to sign → HMAC-SHA256 with the SK) so a request the server accepts is one the real
/// API gateway would accept.
fn hc_expected_signature(req: &Seen, signed: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut path = req.path.clone();
    if !path.ends_with('/') {
        path.push('/');
    }
    let headers: String = signed
        .split(';')
        .map(|h| format!("{h}:{}\n", req.headers[h]))
        .collect();
    let canonical = format!(
        "{}\n{path}\n\n{headers}\n{signed}\n{}",
        req.method,
        hex::encode(Sha256::digest(&req.body))
    );
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{}\n{}",
        req.headers["x-sdk-date"],
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HC_SK.as_bytes());
    hex::encode(ring::hmac::sign(&key, to_sign.as_bytes()).as_ref())
}

/// Checks the signature headers; `Err` is the gateway's answer to a badly signed request.
fn hc_check_signature(req: &Seen) -> Result<(), String> {
    let auth = req.headers.get("authorization").ok_or("no authorization")?;
    let rest = auth
        .strip_prefix(&format!("SDK-HMAC-SHA256 Access={HC_AK}, SignedHeaders="))
        .ok_or("bad authorization head")?;
    let (signed, signature) = rest.split_once(", Signature=").ok_or("no signature")?;
    if signed != "host;x-project-id;x-sdk-date" {
        return Err(format!("signed headers {signed}"));
    }
    let date = &req.headers["x-sdk-date"];
    let well_formed = date.len() == 16
        && date.ends_with('Z')
        && date.as_bytes()[8] == b'T'
        && date[..8]
            .chars()
            .chain(date[9..15].chars())
            .all(|c| c.is_ascii_digit());
    if !well_formed || req.headers["x-project-id"] != HC_PROJECT {
        return Err("bad x-sdk-date or x-project-id".into());
    }
    if signature != hc_expected_signature(req, signed) {
        return Err("signature mismatch".into());
    }
    Ok(())
}

/// HuaweiCloud KMS: `POST /v1.0/{project_id}/kms/encrypt-data {key_id, plain_text,
/// encryption_algorithm}` → `{key_id, cipher_text}`, `decrypt-data {cipher_text, key_id, …}` →
/// `{key_id, plain_text}`; errors as `{"error_code", "error_msg"}`.
fn hckms_server() -> Fake {
    serve(|req| {
        if let Err(why) = hc_check_signature(req) {
            let body = serde_json::json!({"error_code": "APIGW.0301", "error_msg": why});
            return (401, body.to_string());
        }
        let body = req.json();
        assert_eq!(body["encryption_algorithm"], "SYMMETRIC_DEFAULT");
        let key = body["key_id"].as_str().unwrap().to_string();
        match req.path.strip_prefix(&format!("/v1.0/{HC_PROJECT}/kms/")) {
            Some("encrypt-data") => {
                let plain = body["plain_text"].as_str().unwrap();
                // sops sends the data key (or a 33-byte Shamir share) as base64 text.
                assert!(matches!(B64.decode(plain).unwrap().len(), 32 | 33));
                let mut sealed = key.as_bytes().to_vec();
                sealed.push(b'|');
                sealed.extend(scramble(plain.as_bytes()));
                let answer = serde_json::json!({"key_id": key, "cipher_text": B64.encode(sealed)});
                (200, answer.to_string())
            }
            Some("decrypt-data") => {
                let sealed = B64.decode(body["cipher_text"].as_str().unwrap()).unwrap();
                let (owner, data) = sealed.split_at(key.len());
                if owner != key.as_bytes() {
                    let e = serde_json::json!({"error": {"error_code": "KMS.0205", "error_msg": "wrong key"}});
                    return (400, e.to_string());
                }
                let plain = String::from_utf8(scramble(&data[1..])).unwrap();
                (
                    200,
                    serde_json::json!({"key_id": key, "plain_text": plain}).to_string(),
                )
            }
            _ => (404, "{}".into()),
        }
    })
}

fn hc_env(fake: &Fake) -> Vec<(&'static str, String)> {
    vec![
        ("HUAWEICLOUD_SDK_AK", HC_AK.into()),
        ("HUAWEICLOUD_SDK_SK", HC_SK.into()),
        ("HUAWEICLOUD_SDK_PROJECT_ID", HC_PROJECT.into()),
        ("HUAWEICLOUD_SDK_REGION_KMS_TR_WEST_1", fake.base.clone()),
    ]
}

fn hc_run(dir: &Path, fake: &Fake, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let env = hc_env(fake);
    let mut envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    envs.extend_from_slice(extra);
    rsops(dir, args, &envs)
}

/// The `hckms` key ids in a YAML file's `sops:` block, in order.
fn hc_key_ids(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("- key_id: ")
                .or(l.trim().strip_prefix("key_id: "))
        })
        .map(String::from)
        .collect()
}

#[test]
fn hckms_encrypt_decrypt_rotate_updatekeys_groups() {
    let fake = hckms_server();
    let (_t, dir) = workdir();
    let enc = ok(hc_run(
        &dir,
        &fake,
        &["encrypt", "--hckms", HC_KEY1, "plain.yaml"],
        &[],
    ));
    // sops's stanza: key_id, created_at, enc, in that order.
    let at = enc.find("    hckms:\n        - key_id: ").expect(&enc);
    let stanza: Vec<&str> = enc[at..].lines().skip(1).take(3).collect();
    assert!(stanza[0].ends_with(HC_KEY1), "{enc}");
    assert!(
        stanza[1].trim_start().starts_with("created_at: \""),
        "{enc}"
    );
    assert!(stanza[2].trim_start().starts_with("enc: "), "{enc}");
    std::fs::write(dir.join("enc.yaml"), &enc).unwrap();
    assert_eq!(
        ok(hc_run(&dir, &fake, &["decrypt", "enc.yaml"], &[])),
        PLAIN
    );

    // The env var names keys as the flag does.
    let from_env = ok(hc_run(
        &dir,
        &fake,
        &["encrypt", "plain.yaml"],
        &[("SOPS_HUAWEICLOUD_KMS_IDS", HC_KEY2)],
    ));
    assert_eq!(hc_key_ids(&from_env), [HC_KEY2]);

    let rotated = [
        "rotate",
        "-i",
        "--add-hckms",
        HC_KEY2,
        "--rm-hckms",
        HC_KEY1,
        "enc.yaml",
    ];
    ok(hc_run(&dir, &fake, &rotated, &[]));
    let text = std::fs::read_to_string(dir.join("enc.yaml")).unwrap();
    assert_eq!(hc_key_ids(&text), [HC_KEY2]);
    assert_eq!(
        ok(hc_run(&dir, &fake, &["decrypt", "enc.yaml"], &[])),
        PLAIN
    );

    // `.sops.yaml`: the long form in key groups, the short form at the rule's top level.
    let config = format!(
        "creation_rules:\n  - path_regex: enc\\.yaml$\n    key_groups:\n      - hckms:\n          - key_id: {HC_KEY1}\n          - key_id: {HC_KEY3}\n  - hckms: {HC_KEY1}\n"
    );
    std::fs::write(dir.join(".sops.yaml"), config).unwrap();
    ok(hc_run(&dir, &fake, &["updatekeys", "-y", "enc.yaml"], &[]));
    let text = std::fs::read_to_string(dir.join("enc.yaml")).unwrap();
    assert_eq!(hc_key_ids(&text), [HC_KEY1, HC_KEY3]);
    let by_rule = ok(hc_run(&dir, &fake, &["encrypt", "plain.yaml"], &[]));
    assert_eq!(hc_key_ids(&by_rule), [HC_KEY1]);

    ok(hc_run(
        &dir,
        &fake,
        &["groups", "add", "-f", "enc.yaml", "-i", "--hckms", HC_KEY2],
        &[],
    ));
    let text = std::fs::read_to_string(dir.join("enc.yaml")).unwrap();
    assert!(
        text.contains("key_groups:") && text.contains("shamir_threshold: 2"),
        "{text}"
    );
    assert_eq!(hc_key_ids(&text), [HC_KEY1, HC_KEY3, HC_KEY2]);
    assert_eq!(
        ok(hc_run(&dir, &fake, &["decrypt", "enc.yaml"], &[])),
        PLAIN
    );
    let delete = [
        "groups",
        "delete",
        "-f",
        "enc.yaml",
        "-i",
        "--shamir-secret-sharing-threshold",
        "1",
        "0",
    ];
    ok(hc_run(&dir, &fake, &delete, &[]));
    let text = std::fs::read_to_string(dir.join("enc.yaml")).unwrap();
    assert_eq!(hc_key_ids(&text), [HC_KEY2]);
    assert_eq!(
        ok(hc_run(&dir, &fake, &["decrypt", "enc.yaml"], &[])),
        PLAIN
    );
    assert!(fake.seen.lock().unwrap().len() >= 10);
}

#[test]
fn hckms_bad_signature_key_id_and_credentials_fail_cleanly() {
    let fake = hckms_server();
    let (_t, dir) = workdir();
    let out = hc_run(
        &dir,
        &fake,
        &["encrypt", "--hckms", HC_KEY1, "plain.yaml"],
        &[("HUAWEICLOUD_SDK_SK", "not-the-secret")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("APIGW.0301: signature mismatch"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "{err}");

    let out = hc_run(
        &dir,
        &fake,
        &["encrypt", "--hckms", "no-region", "plain.yaml"],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected 'region:key-uuid'"), "{err}");
    assert!(fake.seen.lock().unwrap().len() == 1);

    let out = rsops(&dir, &["encrypt", "--hckms", HC_KEY1, "plain.yaml"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HUAWEICLOUD_SDK_AK is not set"), "{err}");
}

/// sops 3.11 predates hckms: it reads a file that also has an hckms key and decrypts it with the
/// age key, ignoring the list it does not know.
#[test]
fn sops_311_decrypts_an_hckms_and_age_file_through_age() {
    use common::{sops, Key, Sandbox};
    let fake = hckms_server();
    let (_t, dir) = workdir();
    let age = Key::Age1.recipient();
    let enc = ok(hc_run(
        &dir,
        &fake,
        &["encrypt", "--hckms", HC_KEY1, "--age", &age, "plain.yaml"],
        &[],
    ));
    assert_eq!(hc_key_ids(&enc), [HC_KEY1]);
    let sandbox = Sandbox::new(&[Key::Age1]);
    sandbox.put("enc.yaml", enc.as_bytes());
    let out = sandbox.run(&sops(), &["decrypt", "enc.yaml"]);
    assert!(out.ok(), "{}", out.summary());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), PLAIN);
}

/// Real sops on a file rsops wrote: sops's own binary, with only `envs` and a private HOME.
fn real_sops(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let sops = std::env::var_os("SOPS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/sops"));
    assert!(
        sops.is_file(),
        "sops not found at {} (run scripts/install-test-tools.sh)",
        sops.display()
    );
    Command::new(sops)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir.join("home"))
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .envs(envs.iter().copied())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn sops_ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "sops {what} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The stanza layout rsops writes for GCP KMS and Azure Key Vault is the one sops reads: a file
/// encrypted by rsops for a cloud key (against the fake service) **and** an age key is decrypted
/// by the real sops with the age key, `sops filestatus` and `sops decrypt --extract` accept it,
/// and `sops updatekeys` against a `.sops.yaml` naming the same two keys finds it already up to
/// date, which it can only do after parsing the cloud stanza back into the same key (a stanza it
/// misread would be a key to add or remove, and adding one would call the cloud).
#[test]
fn cloud_stanzas_parse_in_real_sops() {
    let age_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys/age1.txt");
    let age_text = std::fs::read_to_string(&age_file).unwrap();
    let age = age_text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .trim()
        .to_string();
    let gcp = gcp_server("static-token");
    let azure = azure_server();
    let az_url = "https://myvault.vault.azure.net/keys/sops-key/0123456789abcdef";
    let cases = [
        (
            "gcp_kms",
            "--gcp-kms",
            GCP_KEY.to_string(),
            format!("creation_rules:\n  - gcp_kms: {GCP_KEY}\n    age: {age}\n"),
            vec![
                ("GOOGLE_OAUTH_ACCESS_TOKEN", "static-token".to_string()),
                ("RSOPS_GCP_KMS_ENDPOINT", gcp.base.clone()),
            ],
        ),
        (
            "azure_kv",
            "--azure-kv",
            az_url.to_string(),
            format!("creation_rules:\n  - azure_keyvault: {az_url}\n    age: {age}\n"),
            vec![
                ("AZURE_TENANT_ID", "tenant-1".to_string()),
                ("AZURE_CLIENT_ID", "client-1".to_string()),
                ("AZURE_CLIENT_SECRET", AZ_SECRET.to_string()),
                ("AZURE_AUTHORITY_HOST", azure.base.clone()),
                ("RSOPS_AZURE_KEYVAULT_ENDPOINT", azure.base.clone()),
            ],
        ),
    ];
    for (kind, flag, key, config, envs) in cases {
        let (_tmp, dir) = workdir();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let enc = ok(rsops(
            &dir,
            &["encrypt", flag, &key, "--age", &age, "plain.yaml"],
            &envs,
        ));
        assert!(enc.contains(&format!("    {kind}:\n")), "{enc}");
        std::fs::write(dir.join("enc.yaml"), &enc).unwrap();
        let age_env = [("SOPS_AGE_KEY_FILE", age_file.to_str().unwrap())];
        assert_eq!(
            sops_ok(real_sops(&dir, &["decrypt", "enc.yaml"], &age_env), kind),
            PLAIN,
            "{kind}"
        );
        assert_eq!(
            sops_ok(real_sops(&dir, &["filestatus", "enc.yaml"], &[]), kind).trim(),
            r#"{"encrypted":true}"#,
            "{kind}"
        );
        assert_eq!(
            sops_ok(
                real_sops(
                    &dir,
                    &["decrypt", "--extract", r#"["nested"]["count"]"#, "enc.yaml"],
                    &age_env
                ),
                kind
            ),
            "1\n",
            "{kind}"
        );
        std::fs::write(dir.join(".sops.yaml"), &config).unwrap();
        let out = real_sops(&dir, &["updatekeys", "-y", "enc.yaml"], &age_env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.contains("already up to date"),
            "{kind}: sops updatekeys did not see the same keys ({:?}): {err}",
            out.status.code()
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("enc.yaml")).unwrap(),
            enc,
            "{kind}: updatekeys rewrote the file"
        );
    }
}

/// `tests/fixtures/azure_kv_tls.py` running: a Key Vault stand-in over HTTPS for the real sops
/// (its certificate signed by a CA made here, given to sops in `SSL_CERT_FILE`), the App Service
/// managed-identity endpoint and a plain-HTTP twin of the vault (rsops trusts only the public
/// roots, so it reaches the same keys through `RSOPS_AZURE_KEYVAULT_ENDPOINT`). Killed on drop.
struct AzureTlsMock {
    child: std::process::Child,
    dir: tempfile::TempDir,
    vault_port: u16,
    http_port: u16,
}

const AZ_IDENTITY_HEADER: &str = "identity-header-value";

impl AzureTlsMock {
    fn start() -> AzureTlsMock {
        let dir = tempfile::tempdir().unwrap();
        make_test_ca_and_server_cert(dir.path());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/azure_kv_tls.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["srv.pem", "srv.key", "log.jsonl", AZ_IDENTITY_HEADER])
            .arg("vault-token-0123")
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the Key Vault stand-in");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = |name: &str| -> u16 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("the stand-in did not start: {line:?}"))
        };
        let (vault_port, http_port) = (port("vault="), port("http="));
        AzureTlsMock {
            child,
            dir,
            vault_port,
            http_port,
        }
    }

    fn key_url(&self) -> String {
        format!("https://127.0.0.1:{}/keys/sops-key/v1", self.vault_port)
    }

    fn identity_env(&self, header: &'static str) -> Vec<(&'static str, String)> {
        vec![
            (
                "IDENTITY_ENDPOINT",
                format!("http://127.0.0.1:{}/msi/token", self.http_port),
            ),
            ("IDENTITY_HEADER", header.to_string()),
        ]
    }

    fn sops_env(&self, header: &'static str) -> Vec<(&'static str, String)> {
        let mut env = self.identity_env(header);
        let ca = self.dir.path().join("ca.pem");
        env.push(("SSL_CERT_FILE", ca.to_str().unwrap().to_string()));
        env
    }

    fn rsops_env(&self, header: &'static str) -> Vec<(&'static str, String)> {
        let mut env = self.identity_env(header);
        let twin = format!("http://127.0.0.1:{}", self.http_port);
        env.push(("RSOPS_AZURE_KEYVAULT_ENDPOINT", twin));
        env
    }

    /// The requests served so far, oldest first.
    fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for AzureTlsMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway CA and a server certificate for IP 127.0.0.1 signed by it, with `openssl`.
fn make_test_ca_and_server_cert(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=rsops test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
}

fn as_pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The real sops 3.11 talks to a Key Vault stand-in: TLS to 127.0.0.1 trusted through
/// `SSL_CERT_FILE`, the 401 challenge (its resource a suffix of the vault's host, as the SDK
/// requires), a managed-identity token from `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, api-version
/// 7.x. Both ways: sops encrypts and rsops decrypts, rsops encrypts and sops decrypts; a wrong
/// identity header makes both fail with the same exit code. The stand-in is ours, so this proves
/// the two tools agree on the exchange, not that Azure answers this way.
#[test]
fn azure_key_vault_over_tls_both_ways_with_real_sops() {
    let mock = AzureTlsMock::start();
    let (_tmp, dir) = workdir();
    let key = mock.key_url();
    let (sops_env, rsops_env) = (
        mock.sops_env(AZ_IDENTITY_HEADER),
        mock.rsops_env(AZ_IDENTITY_HEADER),
    );
    let (sops_env, rsops_env) = (as_pairs(&sops_env), as_pairs(&rsops_env));

    let theirs = sops_ok(
        real_sops(
            &dir,
            &["encrypt", "--azure-kv", &key, "plain.yaml"],
            &sops_env,
        ),
        "encrypt",
    );
    let vault_url = format!("vault_url: https://127.0.0.1:{}", mock.vault_port);
    assert!(theirs.contains(&vault_url), "{theirs}");
    std::fs::write(dir.join("sops.yaml"), &theirs).unwrap();
    assert_eq!(
        ok(rsops(&dir, &["decrypt", "sops.yaml"], &rsops_env)),
        PLAIN
    );

    let ours = ok(rsops(
        &dir,
        &["encrypt", "--azure-kv", &key, "plain.yaml"],
        &rsops_env,
    ));
    assert!(ours.contains(&vault_url), "{ours}");
    std::fs::write(dir.join("rsops.yaml"), &ours).unwrap();
    assert_eq!(
        sops_ok(
            real_sops(&dir, &["decrypt", "rsops.yaml"], &sops_env),
            "decrypt"
        ),
        PLAIN
    );

    let log = mock.log();
    let by_sops: Vec<_> = log.iter().filter(|e| e["listener"] == "tls").collect();
    assert!(
        by_sops.len() >= 4,
        "sops did not reach the vault over TLS twice: {log:?}"
    );
    for pair in by_sops.chunks(2) {
        // Every sops process opens with an unauthenticated request (the challenge), then retries.
        assert_eq!(
            (pair[0]["status"].as_i64(), pair[1]["authorized"].as_bool()),
            (Some(401), Some(true)),
            "{log:?}"
        );
    }
    for entry in log.iter().filter(|e| e["path"] != "/msi/token") {
        let version = entry["query"]["api-version"][0].as_str().unwrap_or("");
        assert!(version.starts_with("7."), "api-version {version}: {entry}");
    }
    let resource = format!("https://0.0.1:{}", mock.vault_port);
    assert!(
        log.iter()
            .any(|e| e["path"] == "/msi/token" && e["query"]["resource"][0] == resource.as_str()),
        "sops asked no token for the challenge's resource: {log:?}"
    );

    let (bad_sops, bad_rsops) = (mock.sops_env("wrong"), mock.rsops_env("wrong"));
    let s = real_sops(&dir, &["decrypt", "rsops.yaml"], &as_pairs(&bad_sops));
    let r = rsops(&dir, &["decrypt", "sops.yaml"], &as_pairs(&bad_rsops));
    assert_ne!(s.status.code(), Some(0));
    assert_eq!(
        r.status.code(),
        s.status.code(),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(r.stdout.is_empty());
}
