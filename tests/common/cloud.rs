//! `scripts/kms-proxy.py` in front of moto, which counts the KMS requests by action; killed by
//! pid when the test ends, even on panic. moto itself and the KMS key come from `services`.

use super::services::{free_port, Server};
use rsops::keys::http::{Client, Request};
use std::process::Command;

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

/// moto's environment for `server` (moto or the proxy), with a shorter HTTP timeout so a stuck
/// proxy fails the test instead of hanging it.
pub fn aws_env(server: &Server) -> Vec<(&'static str, String)> {
    let mut env = super::services::aws_env(server);
    env.push(("RSOPS_HTTP_TIMEOUT", "10".into()));
    env
}
