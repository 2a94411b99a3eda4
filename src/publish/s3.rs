//! S3 `PutObject` (path-style, SigV4-signed with the signer the KMS backend uses), with the AWS
//! credential chain and endpoint overrides (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`) of the
//! KMS backend.

use super::PublishError;
use crate::keys::aws::{resolve_credentials, service_endpoint, sign_request, CredentialContext};
use crate::keys::http::{env, Client, Request};
use sha2::{Digest, Sha256};

/// The region sops's SDK would use for S3: `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1.
fn region() -> String {
    env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".into())
}

/// Uploads `body` as `s3://bucket/key`.
pub fn put_object(http: &Client, bucket: &str, key: &str, body: &[u8]) -> Result<(), PublishError> {
    let region = region();
    let sts_endpoint = service_endpoint("sts", &region);
    let ctx = CredentialContext {
        client: http,
        region: &region,
        sts_endpoint: &sts_endpoint,
    };
    let credentials = resolve_credentials(None, &ctx).map_err(|e| PublishError {
        message: format!("cannot upload to s3://{bucket}/{key}: {e}"),
        hint: "set AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE …)",
    })?;
    let base = service_endpoint("s3", &region);
    let url = format!(
        "{}/{}/{}",
        base.trim_end_matches('/'),
        encode(bucket),
        key.split('/').map(encode).collect::<Vec<_>>().join("/")
    );
    let mut headers = vec![(
        "x-amz-content-sha256".to_string(),
        hex::encode(Sha256::digest(body)),
    )];
    sign_request(&credentials, &region, "s3", "PUT", &url, &mut headers, body).map_err(
        |message| PublishError {
            message,
            hint: "check the AWS credentials",
        },
    )?;
    let mut request = Request::new("PUT", &url).body(body.to_vec());
    request.headers = headers;
    let response = http.send(&request, |_| false).map_err(|e| PublishError {
        message: format!("cannot upload to s3://{bucket}/{key}: {e}"),
        hint: "check the network and AWS_ENDPOINT_URL/AWS_ENDPOINT_URL_S3",
    })?;
    if response.is_success() {
        return Ok(());
    }
    Err(PublishError {
        message: format!(
            "cannot upload to s3://{bucket}/{key}: HTTP {} {}",
            response.status,
            s3_error_code(&response.body)
        ),
        hint: "check that the bucket exists and the credentials may write to it",
    })
}

/// `<Code>…</Code>` of an S3 XML error, which names the problem without echoing the body.
fn s3_error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.chars().take(64).collect())
        .unwrap_or_default()
}

/// RFC 3986 unreserved characters stay, everything else is percent-encoded (one path segment).
fn encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(super::encode("a b+c.yaml"), "a%20b%2Bc.yaml");
        assert_eq!(
            super::s3_error_code(b"<Error><Code>NoSuchBucket</Code></Error>"),
            "NoSuchBucket"
        );
    }
}
