//! Google Cloud Storage upload over the JSON API
//! (`POST {base}/upload/storage/v1/b/BUCKET/o?uploadType=media&name=OBJECT`). Against an emulator
//! (the caller passes `STORAGE_EMULATOR_HOST`, as sops's Go client honours it) the request is
//! plain HTTP without credentials; otherwise it goes to `https://storage.googleapis.com` with a
//! bearer token from the credentials the GCP KMS backend uses.

use super::PublishError;
use crate::keys::http::{percent_encode, Client, Request};
use zeroize::Zeroizing;

const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";
const API_BASE: &str = "https://storage.googleapis.com";

pub struct Gcs<'a> {
    pub http: &'a Client,
    /// `STORAGE_EMULATOR_HOST`: `host:port` (reached over plain HTTP) or a URL.
    pub emulator_host: Option<&'a str>,
}

impl Gcs<'_> {
    /// The API base URL: the emulator's, else Google's.
    fn base(&self) -> String {
        match self.emulator_host {
            Some(host) if host.contains("://") => host.trim_end_matches('/').to_string(),
            Some(host) => format!("http://{}", host.trim_end_matches('/')),
            None => API_BASE.to_string(),
        }
    }

    /// Uploads `body` as `gs://bucket/object`, replacing any object of that name.
    pub fn upload(&self, bucket: &str, object: &str, body: &[u8]) -> Result<(), PublishError> {
        let what = format!("gcs://{bucket}/{object}");
        let url = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
            self.base(),
            percent_encode(bucket),
            percent_encode(object)
        );
        let mut request = Request::new("POST", &url)
            .header("content-type", "application/octet-stream")
            .body(body.to_vec());
        if self.emulator_host.is_none() {
            let token: Zeroizing<String> = crate::keys::gcpkms::access_token(self.http, SCOPE)
                .map_err(|e| PublishError {
                    message: format!("cannot upload to {what}: {e}"),
                    hint: "set GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_CREDENTIALS or GOOGLE_OAUTH_ACCESS_TOKEN",
                })?;
            request = request.header("authorization", format!("Bearer {}", token.as_str()));
        }
        let response = self
            .http
            .send(&request, |_| false)
            .map_err(|e| PublishError {
                message: format!("cannot upload to {what}: {e}"),
                hint: "check the network (and STORAGE_EMULATOR_HOST when using an emulator)",
            })?;
        if response.is_success() {
            return Ok(());
        }
        let reason = response
            .json()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .map(|m| m.chars().take(200).collect::<String>())
            .unwrap_or_default();
        Err(PublishError {
            message: format!("cannot upload to {what}: HTTP {} {reason}", response.status),
            hint: "check that the bucket exists and the credentials may write to it",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Gcs;
    use crate::keys::http::Client;

    #[test]
    fn emulator_host_is_plain_http() {
        let http = Client::new();
        let base = |host| {
            Gcs {
                http: &http,
                emulator_host: host,
            }
            .base()
        };
        assert_eq!(base(Some("127.0.0.1:9023")), "http://127.0.0.1:9023");
        assert_eq!(base(Some("https://gcs.test/")), "https://gcs.test");
        assert_eq!(base(None), "https://storage.googleapis.com");
    }
}
