//! STS `AssumeRole` (signed) and `AssumeRoleWithWebIdentity` (unsigned) over the query API.

use super::credentials::{Context, Credentials};
use super::sign::sign_request;
use crate::keys::http::{self, form_encode, xml_tag, Request};

/// sops's session name: `sops@` + the hostname without characters STS refuses, at most 64.
pub fn session_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| http::env("HOSTNAME"))
        .unwrap_or_default();
    let clean: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(*c))
        .collect();
    let mut name = format!("sops@{clean}");
    name.truncate(64);
    name
}

pub fn assume_role(
    ctx: &Context,
    source: &Credentials,
    role: &str,
    session: &str,
    external_id: Option<&str>,
) -> Result<Credentials, String> {
    let mut pairs = vec![
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", role),
        ("RoleSessionName", session),
    ];
    if let Some(id) = external_id {
        pairs.push(("ExternalId", id));
    }
    let body = form_encode(&pairs).into_bytes();
    let url = ctx.sts_endpoint;
    let mut headers = vec![(
        "content-type".to_string(),
        "application/x-www-form-urlencoded".to_string(),
    )];
    sign_request(source, ctx.region, "sts", "POST", url, &mut headers, &body)?;
    let mut request = Request::new("POST", url).body(body);
    request.headers = headers;
    call(ctx, &request, role)
}

pub fn assume_role_with_web_identity(
    ctx: &Context,
    role: &str,
    session: &str,
    token: &str,
) -> Result<Credentials, String> {
    let request = Request::new("POST", ctx.sts_endpoint).form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role),
        ("RoleSessionName", session),
        ("WebIdentityToken", token),
    ]);
    call(ctx, &request, role)
}

fn call(ctx: &Context, request: &Request, role: &str) -> Result<Credentials, String> {
    let fail = |detail: String| {
        format!("failed to assume role {role}: {detail}; check that the caller may sts:AssumeRole it and that its trust policy allows the caller")
    };
    let response = ctx
        .client
        .send(request, |r| {
            r.status == 400 && xml_tag(&r.body, "Code").as_deref() == Some("Throttling")
        })
        .map_err(|e| fail(e.to_string()))?;
    if !response.is_success() {
        let code = xml_tag(&response.body, "Code").unwrap_or_default();
        let message = xml_tag(&response.body, "Message").unwrap_or_default();
        return Err(fail(format!(
            "{} {}: HTTP {} {code}: {message}",
            request.method,
            http::endpoint_of(request.url),
            response.status
        )));
    }
    let get = |tag| xml_tag(&response.body, tag);
    match (get("AccessKeyId"), get("SecretAccessKey")) {
        (Some(key), Some(secret)) => Ok(Credentials::new(
            &key,
            &secret,
            get("SessionToken").as_deref(),
        )),
        _ => Err(fail("the STS answer has no credentials".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_assume_role_answer() {
        let body = br#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s/e&amp;cret</SecretAccessKey><SessionToken>tok</SessionToken><Expiration>2019-11-09T13:34:41Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>"#;
        assert_eq!(xml_tag(body, "AccessKeyId").unwrap(), "ASIAEXAMPLE");
        assert_eq!(xml_tag(body, "SecretAccessKey").unwrap(), "s/e&cret");
    }

    #[test]
    fn session_name_is_sanitized_and_bounded() {
        let n = session_name();
        assert!(n.starts_with("sops@") && n.len() <= 64);
    }
}
