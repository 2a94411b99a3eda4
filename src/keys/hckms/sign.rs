//! HuaweiCloud's AK/SK request signing (`SDK-HMAC-SHA256`), as its SDKs sign API calls: a
//! canonical request (method, path with a trailing `/`, sorted query, signed headers, body
//! hash), hashed into a string to sign with the request time, HMAC'd with the secret key.

use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// The parts of a request the signature covers.
pub struct ToSign<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Lower-case names; every header here is signed.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// `X-Sdk-Date`, `YYYYMMDDTHHMMSSZ`
    pub date: &'a str,
}

fn canonical_path(path: &str) -> String {
    let mut out: String = path
        .split('/')
        .map(crate::keys::http::percent_encode)
        .collect::<Vec<_>>()
        .join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

fn sorted_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    sorted.sort();
    sorted
}

pub fn signed_headers(headers: &[(String, String)]) -> String {
    sorted_headers(headers)
        .into_iter()
        .map(|(k, _)| k)
        .collect::<Vec<_>>()
        .join(";")
}

pub fn canonical_request(req: &ToSign) -> String {
    let headers: String = sorted_headers(req.headers)
        .iter()
        .map(|(k, v)| format!("{k}:{v}\n"))
        .collect();
    format!(
        "{}\n{}\n\n{}\n{}\n{}",
        req.method,
        canonical_path(req.path),
        headers,
        signed_headers(req.headers),
        hex::encode(Sha256::digest(req.body))
    )
}

pub fn string_to_sign(req: &ToSign) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}",
        req.date,
        hex::encode(Sha256::digest(canonical_request(req).as_bytes()))
    )
}

/// The `Authorization` header value.
pub fn authorization(req: &ToSign, access_key: &str, secret_key: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret_key.as_bytes());
    let signature = ring::hmac::sign(&key, string_to_sign(req).as_bytes());
    format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={}, Signature={}",
        signed_headers(req.headers),
        hex::encode(signature.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(headers: &'a [(String, String)]) -> ToSign<'a> {
        ToSign {
            method: "POST",
            path: "/v1.0/p1/kms/encrypt-data",
            headers,
            body: b"{}",
            date: "20260101T000000Z",
        }
    }

    #[test]
    fn canonical_request_has_sops_sdk_layout() {
        let headers = vec![
            ("X-Sdk-Date".to_string(), "20260101T000000Z".to_string()),
            (
                "Host".to_string(),
                " kms.tr-west-1.myhuaweicloud.com ".to_string(),
            ),
        ];
        let text = canonical_request(&request(&headers));
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines[0], "POST");
        assert_eq!(lines[1], "/v1.0/p1/kms/encrypt-data/");
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], "host:kms.tr-west-1.myhuaweicloud.com");
        assert_eq!(lines[4], "x-sdk-date:20260101T000000Z");
        assert_eq!(lines[6], "host;x-sdk-date");
        assert_eq!(lines[7], hex::encode(Sha256::digest(b"{}")));
    }

    #[test]
    fn authorization_names_key_headers_and_a_hex_signature() {
        let headers = vec![("host".to_string(), "h".to_string())];
        let auth = authorization(&request(&headers), "AK1", "SK1");
        let (head, signature) = auth.rsplit_once("Signature=").unwrap();
        assert_eq!(head, "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, ");
        assert_eq!(signature.len(), 64);
        assert!(signature.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(auth, authorization(&request(&headers), "AK1", "SK2"));
    }
}
