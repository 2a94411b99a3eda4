//! The AWS credential chain, in the order the Go SDK v2 (and so sops) walks it: an explicit
//! profile first; else environment keys, web identity, the shared-files profile, then the
//! container and instance metadata endpoints.

use super::sts;
use crate::keys::http::{self, env, Client, Request};
use std::collections::HashMap;
use std::path::PathBuf;
use zeroize::Zeroizing;

#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl Credentials {
    pub fn new(access_key_id: &str, secret: &str, token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: access_key_id.to_string(),
            secret_access_key: Zeroizing::new(secret.to_string()),
            session_token: token
                .filter(|t| !t.is_empty())
                .map(|t| Zeroizing::new(t.to_string())),
        }
    }
}

/// Where STS lives for this resolution: the KMS key's region and the endpoint overrides.
pub struct Context<'a> {
    pub client: &'a Client,
    pub region: &'a str,
    pub sts_endpoint: &'a str,
}

/// Resolves credentials; `profile` is the key's `aws_profile` (or `--aws-profile`), which, as
/// in the Go SDK, outranks environment keys.
pub fn resolve(profile: Option<&str>, ctx: &Context) -> Result<Credentials, String> {
    if let Some(name) = profile.filter(|p| !p.is_empty()) {
        return from_profile(name, true, ctx, 0);
    }
    if let Some(creds) = from_env() {
        return Ok(creds);
    }
    if let Some(token_file) = env("AWS_WEB_IDENTITY_TOKEN_FILE") {
        let role = env("AWS_ROLE_ARN").ok_or(
            "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not; set the role to assume",
        )?;
        let session = env("AWS_ROLE_SESSION_NAME").unwrap_or_else(sts::session_name);
        return web_identity(&token_file, &role, &session, ctx);
    }
    let name = env("AWS_PROFILE")
        .or_else(|| env("AWS_DEFAULT_PROFILE"))
        .unwrap_or_else(|| "default".to_string());
    from_profile(&name, false, ctx, 0)
}

fn from_env() -> Option<Credentials> {
    let key = env("AWS_ACCESS_KEY_ID").or_else(|| env("AWS_ACCESS_KEY"))?;
    let secret = env("AWS_SECRET_ACCESS_KEY").or_else(|| env("AWS_SECRET_KEY"))?;
    let token = env("AWS_SESSION_TOKEN");
    Some(Credentials::new(&key, &secret, token.as_deref()))
}

fn web_identity(
    token_file: &str,
    role: &str,
    session: &str,
    ctx: &Context,
) -> Result<Credentials, String> {
    let token = Zeroizing::new(
        std::fs::read_to_string(token_file)
            .map_err(|e| format!("cannot read the web identity token file {token_file}: {e}"))?,
    );
    sts::assume_role_with_web_identity(ctx, role, session, token.trim())
}

type Section = HashMap<String, String>;

/// `~/.aws/config` (`[profile NAME]`, `[default]`) and `~/.aws/credentials` (`[NAME]`), the
/// latter winning per key, as the SDKs merge them.
fn load_profile(name: &str) -> Option<Section> {
    let home = http::home_dir().unwrap_or_default();
    let config = env("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/config"));
    let credentials = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/credentials"));
    let mut merged: Option<Section> = None;
    if let Ok(text) = std::fs::read_to_string(&config) {
        let sections = parse_ini(&text);
        let wanted = if name == "default" {
            sections.get("default").or(sections.get("profile default"))
        } else {
            sections.get(&format!("profile {name}"))
        };
        merged = wanted.cloned();
    }
    if let Ok(text) = std::fs::read_to_string(&credentials) {
        if let Some(section) = parse_ini(&text).remove(name) {
            merged.get_or_insert_with(Section::new).extend(section);
        }
    }
    merged
}

/// The shared files' INI dialect: `[section]`, `key = value`, `#`/`;` comments; indented lines
/// belong to a nested block (`s3 =` …) that credentials never use, so they are skipped.
fn parse_ini(text: &str) -> HashMap<String, Section> {
    let mut sections: HashMap<String, Section> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            sections
                .get_mut(section)
                .expect("section exists")
                .insert(k.trim().to_lowercase(), v.trim().to_string());
        }
    }
    sections
}

fn from_profile(
    name: &str,
    explicit: bool,
    ctx: &Context,
    depth: usize,
) -> Result<Credentials, String> {
    if depth > 5 {
        return Err(format!(
            "AWS profile {name}: source_profile chain is too long or circular"
        ));
    }
    let Some(section) = load_profile(name) else {
        if explicit || depth > 0 {
            return Err(format!(
                "AWS profile `{name}` not found in the shared config or credentials file (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, ~/.aws)"
            ));
        }
        return from_metadata(ctx);
    };
    let get = |k: &str| section.get(k).filter(|v| !v.is_empty()).cloned();
    if let Some(role) = get("role_arn") {
        let session = get("role_session_name").unwrap_or_else(sts::session_name);
        if let Some(token_file) = get("web_identity_token_file") {
            return web_identity(&token_file, &role, &session, ctx);
        }
        let source = if let Some(source) = get("source_profile") {
            if source == name {
                static_keys(&section, name)?
            } else {
                from_profile(&source, true, ctx, depth + 1)?
            }
        } else if let Some(source) = get("credential_source") {
            match source.as_str() {
                "Environment" => from_env().ok_or(
                    "credential_source = Environment but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set",
                )?,
                "Ec2InstanceMetadata" | "EcsContainer" => from_metadata(ctx)?,
                other => return Err(format!("AWS profile {name}: unknown credential_source {other}")),
            }
        } else {
            return Err(format!(
                "AWS profile {name} has role_arn but neither source_profile nor credential_source"
            ));
        };
        return sts::assume_role(ctx, &source, &role, &session, get("external_id").as_deref());
    }
    if get("aws_access_key_id").is_some() {
        return static_keys(&section, name);
    }
    if let Some(command) = get("credential_process") {
        return credential_process(&command, name);
    }
    if get("sso_session").is_some() || get("sso_start_url").is_some() {
        return Err(format!(
            "AWS profile {name} uses IAM Identity Center (SSO), which rsops does not read yet; export temporary keys with `aws configure export-credentials --profile {name} --format env`"
        ));
    }
    if explicit || depth > 0 {
        return Err(format!("AWS profile {name} has no credentials"));
    }
    from_metadata(ctx)
}

fn static_keys(section: &Section, name: &str) -> Result<Credentials, String> {
    let key = section.get("aws_access_key_id");
    let secret = section.get("aws_secret_access_key");
    match (key, secret) {
        (Some(k), Some(s)) => Ok(Credentials::new(
            k,
            s,
            section.get("aws_session_token").map(String::as_str),
        )),
        _ => Err(format!(
            "AWS profile {name} needs both aws_access_key_id and aws_secret_access_key"
        )),
    }
}

/// The documented `credential_process` contract: run it, read `{Version: 1, AccessKeyId, …}`.
fn credential_process(command: &str, name: &str) -> Result<Credentials, String> {
    let argv = shlex::split(command)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("AWS profile {name}: credential_process cannot be parsed"))?;
    let output = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("AWS profile {name}: credential_process failed to start: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "AWS profile {name}: credential_process exited with {}",
            output.status
        ));
    }
    let stdout = Zeroizing::new(output.stdout);
    let json: serde_json::Value = serde_json::from_slice(&stdout)
        .map_err(|_| format!("AWS profile {name}: credential_process did not print JSON"))?;
    json_credentials(&json, "AccessKeyId", "SecretAccessKey", "SessionToken").ok_or_else(|| {
        format!("AWS profile {name}: credential_process output lacks AccessKeyId/SecretAccessKey")
    })
}

fn json_credentials(
    v: &serde_json::Value,
    key: &str,
    secret: &str,
    token: &str,
) -> Option<Credentials> {
    Some(Credentials::new(
        v[key].as_str()?,
        v[secret].as_str()?,
        v[token].as_str(),
    ))
}

/// ECS/EKS-pod-identity container credentials, else EC2 IMDSv2.
fn from_metadata(ctx: &Context) -> Result<Credentials, String> {
    if let Some(creds) = container_credentials(ctx.client)? {
        return Ok(creds);
    }
    if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(no_credentials());
    }
    imds_credentials()
        .map_err(|reason| format!("{} (instance metadata: {reason})", no_credentials()))
}

fn no_credentials() -> String {
    "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --aws-profile, or run where instance/container credentials exist".to_string()
}

fn container_credentials(client: &Client) -> Result<Option<Credentials>, String> {
    let url = if let Some(relative) = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        format!("http://169.254.170.2{relative}")
    } else if let Some(full) = env("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        full
    } else {
        return Ok(None);
    };
    let mut request = Request::new("GET", &url);
    let token = match env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: {e}"))?
                .trim()
                .to_string(),
        ),
        None => env("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    };
    if let Some(token) = token {
        request = request.header("authorization", token);
    }
    let response = client
        .send(&request, |_| false)
        .map_err(|e| format!("container credentials: {e}"))?;
    if !response.is_success() {
        return Err(format!(
            "container credentials: {}",
            http::status_error(&request, &response, |_| None)
        ));
    }
    let json = response
        .json()
        .ok_or("container credentials: the answer is not JSON")?;
    json_credentials(&json, "AccessKeyId", "SecretAccessKey", "Token")
        .map(Some)
        .ok_or_else(|| "container credentials: the answer lacks AccessKeyId/SecretAccessKey".into())
}

fn imds_credentials() -> Result<Credentials, String> {
    // IMDS answers in milliseconds on EC2; off EC2 we must not hang.
    let client = Client::with_timeout(std::time::Duration::from_secs(1));
    let base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or_else(|| "http://169.254.169.254".to_string());
    let base = base.trim_end_matches('/');
    let token_url = format!("{base}/latest/api/token");
    let request =
        Request::new("PUT", &token_url).header("x-aws-ec2-metadata-token-ttl-seconds", "21600");
    let token = text_of(client.send_once(&request).map_err(|e| e.to_string())?)?;
    let list_url = format!("{base}/latest/meta-data/iam/security-credentials/");
    let roles = text_of(
        client
            .send_once(
                &Request::new("GET", &list_url).header("x-aws-ec2-metadata-token", token.as_str()),
            )
            .map_err(|e| e.to_string())?,
    )?;
    let role = roles.lines().next().ok_or("no instance profile attached")?;
    let creds_url = format!("{list_url}{role}");
    let response = client
        .send_once(
            &Request::new("GET", &creds_url).header("x-aws-ec2-metadata-token", token.as_str()),
        )
        .map_err(|e| e.to_string())?;
    let json = response.json().ok_or("the answer is not JSON")?;
    json_credentials(&json, "AccessKeyId", "SecretAccessKey", "Token")
        .ok_or_else(|| "the answer lacks AccessKeyId/SecretAccessKey".into())
}

fn text_of(response: http::Response) -> Result<Zeroizing<String>, String> {
    if !response.is_success() {
        return Err(format!("HTTP {}", response.status));
    }
    String::from_utf8(response.body.to_vec())
        .map(|s| Zeroizing::new(s.trim().to_string()))
        .map_err(|_| "the answer is not text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_and_nested_blocks() {
        let text = "[default]\naws_access_key_id = A\n# c\n[profile dev]\nregion=eu-west-1\ns3 =\n  max_concurrent_requests = 20\nrole_arn = arn:aws:iam::1:role/x\n";
        let s = parse_ini(text);
        assert_eq!(s["default"]["aws_access_key_id"], "A");
        assert_eq!(s["profile dev"]["region"], "eu-west-1");
        assert_eq!(s["profile dev"]["role_arn"], "arn:aws:iam::1:role/x");
        assert!(!s["profile dev"].contains_key("max_concurrent_requests"));
    }

    #[test]
    fn debug_redacts() {
        let c = Credentials::new("AKIA", "very-secret", Some("tok"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret") && !shown.contains("AKIA"));
    }
}
