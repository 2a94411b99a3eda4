//! Servers the key-backend suites talk to: moto (AWS KMS, S3), the OpenBao dev server and a GCS
//! stand-in (`tests/fixtures/gcs_stand_in.py`), each
//! on a free 127.0.0.1 port, killed by pid when the guard drops (even on panic). The binaries
//! come from `scripts/install-test-tools.sh` (`.tools/bin/moto_server`, `bao`).

use rsops::keys::aws::{Credentials, KmsClient};
use rsops::keys::http::{Client, Request};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

/// A pinned peer from `.tools/bin`, or the path in `var`. Missing is an error, never a skip.
pub fn tool(name: &str, var: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".tools/bin")
            .join(name)
    });
    assert!(
        path.exists(),
        "{} not found: run scripts/install-test-tools.sh (or set {var})",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, killed by its pid when the test ends.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts `cmd` and waits (at most a minute) until `GET ready_path` answers 2xx.
    pub fn start(mut cmd: Command, port: u16, ready_path: &str) -> Server {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = Client::with_timeout(Duration::from_secs(2));
        let url = format!("{}{ready_path}", server.base);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.send_once(&Request::new("GET", &url)) {
                if r.is_success() {
                    return server;
                }
            }
            assert!(
                Instant::now() < deadline,
                "server at {url} never became ready"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto (any AWS service, no auth) on a free port.
pub fn moto() -> Server {
    let port = free_port();
    let mut cmd = Command::new(tool("moto_server", "MOTO_SERVER_BIN"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    Server::start(cmd, port, "/moto-api/")
}

/// `tests/fixtures/gcs_stand_in.py` (the GCS JSON API's object uploads and `alt=media` reads,
/// no auth) on a free port; `STORAGE_EMULATOR_HOST` is its `host:port`.
pub fn gcs_stand_in() -> Server {
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gcs_stand_in.py"))
        .arg(port.to_string());
    Server::start(cmd, port, "/__ready")
}

/// A new symmetric KMS key on `moto`; returns its ARN.
pub fn create_kms_key(moto: &Server) -> String {
    let http = Client::new();
    let client = KmsClient {
        http: &http,
        region: REGION.into(),
        endpoint: format!("{}/", moto.base),
        credentials: Credentials::new("test", "test", None),
    };
    let answer = client
        .call(
            "CreateKey",
            &serde_json::json!({"Description": "rsops test"}),
        )
        .unwrap();
    answer["KeyMetadata"]["Arn"].as_str().unwrap().to_string()
}

/// The environment that points sops and rsops at `moto` with its test credentials.
pub fn aws_env(moto: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.base.clone()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_DEFAULT_REGION", REGION.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// The OpenBao dev server (root token `root`), with a KV v1 engine mounted at `kv1/` beside the
/// dev server's KV v2 `secret/`.
pub fn openbao() -> Server {
    let port = free_port();
    let mut cmd = Command::new(tool("bao", "BAO_BIN"));
    cmd.args([
        "server",
        "-dev",
        "-dev-root-token-id=root",
        &format!("-dev-listen-address=127.0.0.1:{port}"),
    ]);
    let server = Server::start(cmd, port, "/v1/sys/health");
    let body = br#"{"type":"kv","options":{"version":"1"}}"#;
    let url = format!("{}/v1/sys/mounts/kv1", server.base);
    let r = Client::new()
        .send(
            &Request::new("POST", &url)
                .header("x-vault-token", "root")
                .body(body.to_vec()),
            |_| false,
        )
        .unwrap();
    assert!(r.is_success(), "mount kv1: HTTP {}", r.status);
    server
}

/// An unauthenticated call to a test server (moto accepts them); returns status and body.
pub fn call(method: &str, url: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = Request::new(method, url);
    if let Some(token) = token {
        request = request.header("x-vault-token", token);
    }
    let r = Client::new().send(&request, |_| false).unwrap();
    (r.status, r.body.to_vec())
}
