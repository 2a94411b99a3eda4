//! moto (AWS KMS) on a free port, and `scripts/kms-proxy.py` in front of it, which counts the
//! KMS requests by action; both killed by pid when the test ends, even on panic.

use rsops::keys::aws::{Credentials, KmsClient};
use rsops::keys::http::{Client, Request};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

fn tool(name: &str, var: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| super::repo_root().join(".tools/bin").join(name));
    assert!(
        path.exists(),
        "{} not found: run scripts/install-test-tools.sh (or set {var})",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, killed by its pid when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    fn start(mut cmd: Command, port: u16, ready_path: &str) -> Server {
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

/// moto on a free 127.0.0.1 port, no IAM auth.
pub fn moto() -> Server {
    let port = free_port();
    let mut cmd = Command::new(tool("moto_server", "MOTO_SERVER_BIN"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    Server::start(cmd, port, "/moto-api/")
}

/// `scripts/kms-proxy.py` in front of `upstream`, with no added delay (the delay is for the
/// benchmark; tests only count).
pub fn counting_proxy(upstream: &Server) -> Server {
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.arg(super::repo_root().join("scripts/kms-proxy.py"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--upstream", &upstream.base, "--delay-ms", "0"]);
    Server::start(cmd, port, "/__proxy/counts")
}

impl Server {
    /// How many requests of `action` (e.g. `TrentService.Decrypt`) the proxy has forwarded.
    pub fn count(&self, action: &str) -> u64 {
        let url = format!("{}/__proxy/counts", self.base);
        let answer = Client::new()
            .send_once(&Request::new("GET", &url))
            .expect("proxy answers");
        let counts: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
        counts[action].as_u64().unwrap_or(0)
    }

    pub fn reset_counts(&self) {
        let url = format!("{}/__proxy/reset", self.base);
        Client::new()
            .send_once(&Request::new("POST", &url))
            .expect("proxy answers");
    }
}

/// A new symmetric KMS key on `server`; returns its ARN.
pub fn create_key(server: &Server) -> String {
    let http = Client::new();
    let client = KmsClient {
        http: &http,
        region: REGION.into(),
        endpoint: format!("{}/", server.base),
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

/// The environment that points sops and rsops at `server` with moto's test credentials.
pub fn aws_env(server: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", server.base.clone()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_DEFAULT_REGION", REGION.into()),
        ("RSOPS_HTTP_TIMEOUT", "10".into()),
    ]
}
