//! Shared set-up for the Kubernetes tests: the real sops/helm/kubectl from `.tools`, encrypted
//! fixtures made at test time (plaintext only ever piped to sops, never written), an isolated
//! work dir with its own TMPDIR, and the plaintext scan.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const DB_PASSWORD: &str = "s3cr3t-db-pa55w0rd";
pub const API_TOKEN: &str = "tok-9f8e7d6c5b4a";
pub const STRIPE_KEY: &str = "sk_live_0123456789abcdef";
pub const SMTP_PASSWORD: &str = "mail-pass-42";

pub fn secrets_yaml() -> String {
    format!("secret:\n  dbPassword: {DB_PASSWORD}\n  apiToken: {API_TOKEN}\n")
}

pub fn app_secrets_yaml() -> String {
    format!("stripe_key: {STRIPE_KEY}\nsmtp_password: {SMTP_PASSWORD}\n")
}

/// Every secret value the tests use: none may be found on disk after a run.
pub const SECRETS: [&str; 4] = [DB_PASSWORD, API_TOKEN, STRIPE_KEY, SMTP_PASSWORD];

pub use super::repo_root as repo;

/// A pinned peer from `.tools/bin` (or `$<ENV>`); a clear failure when it is not installed.
pub fn tool(name: &str, env: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools/bin").join(name));
    assert!(
        path.exists(),
        "{name} not found at {}: run scripts/install-test-tools.sh (or set {env})",
        path.display()
    );
    path
}

pub fn sops() -> PathBuf {
    tool("sops", "SOPS_BIN")
}
pub fn helm() -> PathBuf {
    tool("helm", "HELM4_BIN")
}
pub fn helm3() -> PathBuf {
    tool("helm3", "HELM3_BIN")
}
pub fn kubectl() -> PathBuf {
    tool("kubectl", "KUBECTL_BIN")
}

pub fn kubernetes_validate() -> PathBuf {
    tool("kubernetes-validate", "KUBERNETES_VALIDATE_BIN")
}

pub fn rsops() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsops"))
}

pub fn age_key_file() -> PathBuf {
    repo().join("keys/age1.txt")
}

pub fn age_recipient() -> String {
    let text = std::fs::read_to_string(age_key_file()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string()
}

/// A scratch work dir (the helm/kubectl cwd) with a private TMPDIR and HOME inside it, so the
/// plaintext scan of the work dir covers both.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        let dir = tempfile::Builder::new()
            .prefix("rsops-k8s-test")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        Work { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn tmp(&self) -> PathBuf {
        self.path().join("tmp")
    }

    /// Encrypts `plaintext` with the real sops (piped in, so it never touches the disk) to `name`.
    pub fn encrypt(&self, name: &str, plaintext: &str, input_type: &str) -> PathBuf {
        self.encrypt_with(name, plaintext, input_type, &[])
    }

    /// [`Work::encrypt`] with more sops flags (e.g. `--unencrypted-regex`).
    pub fn encrypt_with(
        &self,
        name: &str,
        plaintext: &str,
        input_type: &str,
        flags: &[&str],
    ) -> PathBuf {
        let mut child = Command::new(sops())
            .args([
                "encrypt",
                "--age",
                &age_recipient(),
                "--input-type",
                input_type,
            ])
            .args(["--output-type", input_type, "--filename-override", name])
            .args(flags)
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .current_dir(self.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(plaintext.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "sops encrypt: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = self.path().join(name);
        std::fs::write(&path, out.stdout).unwrap();
        path
    }

    /// A command with the test's environment: keys, TMPDIR, no version check, helm homes.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.path())
            .env("SOPS_AGE_KEY_FILE", age_key_file())
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("TMPDIR", self.tmp())
            .env("HOME", self.path().join("home"))
            .env("HELM_CONFIG_HOME", self.path().join(".helm/config"))
            .env("HELM_CACHE_HOME", self.path().join(".helm/cache"))
            .env("HELM_DATA_HOME", self.path().join(".helm/data"))
            .env("RSOPS_BIN", rsops())
            .env_remove("HELM_BIN")
            .env_remove("HELM_PLUGINS")
            .env_remove("RSOPS_HELM_VALUES");
        cmd
    }

    /// Fails if any file under the work dir (TMPDIR included) holds a secret value, or if a
    /// private rsops temp dir is left.
    pub fn assert_clean(&self) {
        self.assert_clean_of(&SECRETS);
    }

    /// [`Work::assert_clean`] for a test's own secret values.
    pub fn assert_clean_of(&self, secrets: &[&str]) {
        let mut hits = Vec::new();
        scan(self.path(), secrets, &mut hits);
        assert!(hits.is_empty(), "plaintext or leftovers found: {hits:?}");
    }
}

fn scan(dir: &Path, secrets: &[&str], hits: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("rsops-helm-") || name.ends_with(".dec") {
            hits.push(format!("{} (leftover)", path.display()));
        }
        if kind.is_dir() {
            scan(&path, secrets, hits);
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            for secret in secrets {
                if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                    hits.push(format!("{} contains a secret", path.display()));
                }
            }
        }
    }
}

pub fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("run command")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Parses YAML output with rsops's own YAML store (every document).
pub fn parse_yaml(text: &[u8]) -> rsops::tree::Document {
    rsops::stores::store_for(rsops::stores::Format::Yaml, Default::default())
        .load_plain(text)
        .expect("valid YAML")
}

/// The decoded `data` plus `stringData` of a Secret, sorted by key.
pub fn secret_values(secret: &rsops::tree::Map) -> Vec<(String, Vec<u8>)> {
    use base64::Engine;
    let mut values = Vec::new();
    if let Some(data) = secret.get("data").and_then(|n| n.as_map()) {
        for (k, v) in data.entries() {
            let text: String = v.as_str().unwrap().split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap();
            values.push((k.to_string(), bytes));
        }
    }
    if let Some(data) = secret.get("stringData").and_then(|n| n.as_map()) {
        for (k, v) in data.entries() {
            values.push((k.to_string(), v.as_str().unwrap().as_bytes().to_vec()));
        }
    }
    values.sort();
    values
}

/// Checks every document of `manifest` against the Kubernetes 1.35 schema offline with
/// `kubernetes-validate --strict` (unknown fields rejected); `Err` carries its report. One
/// "passed" line per document is required, so a skipped document cannot pass unnoticed.
pub fn kubernetes_schema_check(work: &Work, manifest: &[u8]) -> Result<(), String> {
    let mut child = work
        .command(kubernetes_validate())
        .args(["--strict", "--kubernetes-version", "1.35.0", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubernetes-validate");
    child.stdin.take().unwrap().write_all(manifest).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let documents = parse_yaml(manifest).branches.len();
    let passed = report.matches(" passed for resource ").count();
    if !out.status.success() || passed != documents {
        return Err(format!(
            "{passed} of {documents} documents validated: {report}"
        ));
    }
    Ok(())
}
