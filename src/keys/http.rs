//! The one small blocking HTTP client the network key backends share: rustls, bounded timeouts,
//! a few retries with backoff on 5xx/throttling/connection errors, and helpers for the error
//! text every backend reports (method, endpoint, status, the service's own message).
//!
//! Nothing here logs or formats a request body or a header value: bodies carry data keys and
//! headers carry tokens.

use std::time::Duration;
use zeroize::Zeroizing;

/// Attempts per request, counting the first (the AWS SDK's standard retry mode also makes 3).
const ATTEMPTS: u32 = 3;
const BACKOFF_START: Duration = Duration::from_millis(200);

/// `RSOPS_HTTP_TIMEOUT` (seconds) bounds one attempt; the default is generous enough for a
/// cross-region KMS call and short enough that a dead endpoint fails in well under a minute.
const DEFAULT_TIMEOUT_SECS: u64 = 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No HTTP answer at all: refused, DNS, TLS, timeout.
    #[error("{method} {endpoint}: {reason}")]
    Transport {
        method: String,
        endpoint: String,
        reason: String,
    },
    /// The service answered with an error status; `message` is what it said, shortened.
    #[error("{method} {endpoint}: HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status {
        method: String,
        endpoint: String,
        status: u16,
        message: String,
    },
    /// A 2xx answer whose body is not what the API documents.
    #[error("{method} {endpoint}: unexpected response: {reason}")]
    Shape {
        method: String,
        endpoint: String,
        reason: String,
    },
}

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: Vec<(String, String)>,
    /// Zeroed on drop: request bodies carry data keys.
    pub body: Zeroizing<Vec<u8>>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, url: &'a str) -> Request<'a> {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: Zeroizing::new(Vec::new()),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn json(self, value: &serde_json::Value) -> Self {
        let body = serde_json::to_vec(value).expect("a JSON value serializes");
        self.header("content-type", "application/json").body(body)
    }

    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = form_encode(pairs).into_bytes();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Zeroizing::new(body);
        self
    }
}

pub struct Response {
    pub status: u16,
    /// Zeroed on drop: decrypt answers carry data keys.
    pub body: Zeroizing<Vec<u8>>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

pub struct Client {
    agent: ureq::Agent,
    backoff: Duration,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    pub fn new() -> Client {
        let timeout = std::env::var("RSOPS_HTTP_TIMEOUT")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        Client::with_timeout(Duration::from_secs(timeout))
    }

    pub fn with_timeout(timeout: Duration) -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
            .http_status_as_error(false)
            // A redirect would resend a token to wherever the server points; none of the
            // APIs we call redirect.
            .max_redirects(0)
            .build()
            .into();
        Client {
            agent,
            backoff: BACKOFF_START,
        }
    }

    /// Sends the request, retrying on connection errors, 5xx and 429 (and whatever `retry_also`
    /// says is a throttling answer). Returns the last response, success or not.
    pub fn send(
        &self,
        request: &Request,
        retry_also: impl Fn(&Response) -> bool,
    ) -> Result<Response, HttpError> {
        let mut delay = self.backoff;
        let mut attempt = 1;
        loop {
            let result = self.send_once(request);
            let retry = match &result {
                Ok(r) => r.status >= 500 || r.status == 429 || retry_also(r),
                Err(_) => true,
            };
            if !retry || attempt >= ATTEMPTS {
                return result;
            }
            std::thread::sleep(delay);
            delay *= 2;
            attempt += 1;
        }
    }

    /// One attempt, no retry (for probes such as instance metadata).
    pub fn send_once(&self, request: &Request) -> Result<Response, HttpError> {
        let transport = |reason: String| HttpError::Transport {
            method: request.method.to_string(),
            endpoint: endpoint_of(request.url),
            reason,
        };
        let mut builder = ureq::http::Request::builder()
            .method(request.method)
            .uri(request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let http_request = builder
            .body(request.body.to_vec())
            .map_err(|e| transport(format!("invalid request: {e}")))?;
        let response = self
            .agent
            .run(http_request)
            .map_err(|e| transport(describe_transport(&e)))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .read_to_vec()
            .map_err(|e| transport(format!("reading the answer failed: {e}")))?;
        Ok(Response {
            status,
            body: Zeroizing::new(body),
        })
    }
}

fn describe_transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => {
            "timed out (RSOPS_HTTP_TIMEOUT sets the limit in seconds)".into()
        }
        ureq::Error::HostNotFound => "host not found; check the endpoint and DNS".into(),
        ureq::Error::ConnectionFailed => {
            "could not connect; is the service running and reachable?".into()
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused; is the service running and reachable?".into()
        }
        other => other.to_string(),
    }
}

/// `scheme://host[:port]/path` without the query string, which may carry a signature or token.
pub fn endpoint_of(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or("").to_string()
}

/// A status error with the service's message taken from `message_of(json)`, falling back to a
/// short plain-text body; never more than a line or two.
pub fn status_error(
    request: &Request,
    response: &Response,
    message_of: impl Fn(&serde_json::Value) -> Option<String>,
) -> HttpError {
    let message = response
        .json()
        .and_then(|v| message_of(&v))
        .or_else(|| xml_message(&response.body))
        .unwrap_or_else(|| plain_message(&response.body));
    HttpError::Status {
        method: request.method.to_string(),
        endpoint: endpoint_of(request.url),
        status: response.status,
        message: shorten(&message),
    }
}

pub fn shape_error(request: &Request, reason: impl Into<String>) -> HttpError {
    HttpError::Shape {
        method: request.method.to_string(),
        endpoint: endpoint_of(request.url),
        reason: reason.into(),
    }
}

/// AWS query-protocol errors (and moto, whatever the protocol) answer in XML.
fn xml_message(body: &[u8]) -> Option<String> {
    let code = xml_tag(body, "Code")?;
    Some(match xml_tag(body, "Message") {
        Some(m) => format!("{code}: {m}"),
        None => code,
    })
}

/// The text of the first `<tag>…</tag>`; the AWS answers we read are flat enough for this.
pub fn xml_tag(body: &[u8], tag: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    Some(xml_unescape(text[start..end].trim()))
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn plain_message(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) if !text.trim_start().starts_with('<') => text.trim().to_string(),
        _ => String::new(),
    }
}

fn shorten(message: &str) -> String {
    const MAX: usize = 300;
    let one_line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX {
        return one_line;
    }
    let cut: String = one_line.chars().take(MAX).collect();
    format!("{cut}…")
}

/// `application/x-www-form-urlencoded`, as RFC 3986 unreserved characters plus percent escapes
/// (the encoding SigV4 also expects for the query API).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads `name` from the environment, treating an empty value as unset (as the SDKs do).
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The user's home directory, for `~/.aws`, `~/.vault-token`, gcloud's ADC file.
pub fn home_dir() -> Option<std::path::PathBuf> {
    env("HOME")
        .or_else(|| env("USERPROFILE"))
        .map(std::path::PathBuf::from)
}

#[cfg(test)]
pub mod test_server {
    //! A one-thread HTTP/1.1 server on 127.0.0.1 that answers from a closure and records every
    //! request, for replaying documented API exchanges.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Debug)]
    pub struct Recorded {
        pub method: String,
        pub path: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Recorded {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).expect("request body is JSON")
        }
    }

    pub struct Server {
        pub base: String,
        pub requests: Arc<Mutex<Vec<Recorded>>>,
    }

    type Handler = dyn Fn(&Recorded) -> (u16, String) + Send + Sync;

    pub fn start(handler: impl Fn(&Recorded) -> (u16, String) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = Arc::clone(&seen);
                let handler = Arc::clone(&handler);
                std::thread::spawn(move || serve(stream, &seen, &*handler));
            }
        });
        Server { base, requests }
    }

    fn serve(stream: std::net::TcpStream, seen: &Mutex<Vec<Recorded>>, handler: &Handler) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let path = parts.next().unwrap_or("").to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let request = Recorded {
                method,
                path,
                headers,
                body,
            };
            let (status, answer) = handler(&request);
            seen.lock().unwrap().push(request);
            let mut out = stream.try_clone().unwrap();
            let _ = write!(
                out,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn retries_5xx_then_succeeds() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let server = test_server::start(move |_| {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                (503, "{}".into())
            } else {
                (200, r#"{"ok":true}"#.into())
            }
        });
        let url = format!("{}/x", server.base);
        let response = Client::new()
            .send(&Request::new("POST", &url).body(b"{}".to_vec()), |_| false)
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn does_not_retry_4xx_and_reports_message() {
        let server = test_server::start(|_| (403, r#"{"message":"denied"}"#.into()));
        let url = format!("{}/x?sig=SECRET", server.base);
        let request = Request::new("POST", &url);
        let response = Client::new().send(&request, |_| false).unwrap();
        let err = status_error(&request, &response, |v| {
            v["message"].as_str().map(String::from)
        });
        let text = err.to_string();
        assert!(text.contains("HTTP 403: denied"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
        assert_eq!(server.requests.lock().unwrap().len(), 1);
    }

    #[test]
    fn refused_connection_is_a_transport_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/");
        let err = Client::new()
            .send(&Request::new("GET", &url), |_| false)
            .err()
            .unwrap();
        assert!(matches!(err, HttpError::Transport { .. }), "{err}");
    }

    #[test]
    fn form_encoding_is_rfc3986() {
        assert_eq!(
            form_encode(&[("a b", "x/y+z"), ("k", "~._-")]),
            "a%20b=x%2Fy%2Bz&k=~._-"
        );
    }
}
