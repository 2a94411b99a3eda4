//! AWS KMS (moto) and Vault transit (OpenBao dev server) against the real sops 3.11.0, both
//! ways. Each test starts its own server on a free 127.0.0.1 port and kills it by pid on drop.
//! The servers come from `scripts/install-test-tools.sh` (`.tools/bin/moto_server`, `bao`).
#![cfg(all(feature = "aws-kms", feature = "hc-vault"))]

use rsops::keys::aws::{Credentials, KmsClient};
use rsops::keys::http::{self, Client, Request};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const PLAIN: &str =
    "db:\n    user: admin\n    password: hunter2\nport: 5432\nlist:\n    - a\n    - 2.5\n";
const REGION: &str = "us-east-1";
const ROLE: &str = "arn:aws:iam::123456789012:role/sops-test";

fn tool(name: &str, var: &str) -> PathBuf {
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

fn sops() -> PathBuf {
    tool("sops", "SOPS_BIN")
}

fn rsops() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsops"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, killed by its pid when the test ends (even on panic).
struct Server {
    child: Child,
    base: String,
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

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// moto on a free port; `no_auth_actions` > 0 turns on IAM auth after that many free calls.
fn moto(no_auth_actions: usize) -> Server {
    let port = free_port();
    let mut cmd = Command::new(tool("moto_server", "MOTO_SERVER_BIN"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    if no_auth_actions > 0 {
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", no_auth_actions.to_string());
    }
    Server::start(cmd, port, "/moto-api/")
}

fn openbao() -> Server {
    let port = free_port();
    let mut cmd = Command::new(tool("bao", "BAO_BIN"));
    cmd.args([
        "server",
        "-dev",
        "-dev-root-token-id=root",
        &format!("-dev-listen-address=127.0.0.1:{port}"),
    ]);
    let server = Server::start(cmd, port, "/v1/sys/health");
    let client = Client::new();
    for (path, body) in [
        ("/v1/sys/mounts/transit", r#"{"type":"transit"}"#),
        ("/v1/transit/keys/k1", "{}"),
        ("/v1/transit/keys/k2", "{}"),
    ] {
        let url = format!("{}{path}", server.base);
        let r = client
            .send(
                &Request::new("POST", &url)
                    .header("x-vault-token", "root")
                    .body(body.as_bytes().to_vec()),
                |_| false,
            )
            .unwrap();
        assert!(r.is_success(), "{path}: HTTP {}", r.status);
    }
    server
}

fn test_creds() -> Credentials {
    Credentials::new("test", "test", None)
}

fn create_key(server: &Server, creds: Credentials) -> String {
    let http = Client::new();
    let client = KmsClient {
        http: &http,
        region: REGION.into(),
        endpoint: format!("{}/", server.base),
        credentials: creds,
    };
    let answer = client
        .call(
            "CreateKey",
            &serde_json::json!({"Description": "rsops test"}),
        )
        .unwrap();
    answer["KeyMetadata"]["Arn"].as_str().unwrap().to_string()
}

/// A signed IAM query call (for the auth-mode setup); returns the XML answer.
fn iam(server: &Server, creds: &Credentials, params: &[(&str, &str)]) -> Vec<u8> {
    let url = format!("{}/", server.base);
    let mut pairs = params.to_vec();
    pairs.push(("Version", "2010-05-08"));
    let body = http::form_encode(&pairs).into_bytes();
    let mut headers = vec![(
        "content-type".to_string(),
        "application/x-www-form-urlencoded".to_string(),
    )];
    rsops::keys::aws::sign_request(creds, REGION, "iam", "POST", &url, &mut headers, &body)
        .unwrap();
    let mut request = Request::new("POST", &url).body(body);
    request.headers = headers;
    let r = Client::new().send(&request, |_| false).unwrap();
    assert!(r.is_success(), "IAM {params:?}: HTTP {}", r.status);
    r.body.to_vec()
}

/// A test directory with the plaintext, and an environment stripped of the caller's keys.
struct Case {
    dir: TempDir,
    envs: Vec<(String, String)>,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plain.yaml"), PLAIN).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        Case {
            envs: vec![
                ("HOME".into(), home.to_str().unwrap().into()),
                ("SOPS_DISABLE_VERSION_CHECK".into(), "1".into()),
                ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
                ("AWS_DEFAULT_REGION".into(), REGION.into()),
                ("RSOPS_HTTP_TIMEOUT".into(), "10".into()),
            ],
            dir,
        }
    }

    fn env(mut self, k: &str, v: &str) -> Case {
        self.envs.push((k.into(), v.into()));
        self
    }

    fn aws(self, server: &Server) -> Case {
        self.env("AWS_ENDPOINT_URL", &server.base)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn run(&self, program: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(program);
        for (k, _) in std::env::vars() {
            if ["AWS_", "VAULT_", "SOPS_", "GOOGLE_", "AZURE_", "BAO_"]
                .iter()
                .any(|p| k.starts_with(p))
            {
                cmd.env_remove(&k);
            }
        }
        cmd.envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, program: &Path, args: &[&str], extra: &[(&str, &str)]) -> String {
        let out = self.run(program, args, extra);
        assert!(
            out.status.success(),
            "{} {args:?} failed ({:?}):\n{}",
            program.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Encrypts plain.yaml with `encryptor`, decrypts with `decryptor`; the result must equal
    /// the plaintext (sops decrypt output for this input is the input itself).
    fn round_trip(
        &self,
        encryptor: &Path,
        decryptor: &Path,
        key_args: &[&str],
        tag: &str,
    ) -> String {
        let mut args = vec!["encrypt"];
        args.extend_from_slice(key_args);
        args.push("plain.yaml");
        let encrypted = self.ok(encryptor, &args, &[]);
        let file = format!("enc-{tag}.yaml");
        self.write(&file, &encrypted);
        let decrypted = self.ok(decryptor, &["decrypt", &file], &[]);
        assert_eq!(decrypted, PLAIN, "{tag}: decrypted text differs");
        encrypted
    }
}

fn both_ways(case: &Case, key_args: &[&str]) -> (String, String) {
    let by_rsops = case.round_trip(&rsops(), &sops(), key_args, "rsops");
    let by_sops = case.round_trip(&sops(), &rsops(), key_args, "sops");
    (by_rsops, by_sops)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn kms_plain_key_both_ways() {
    let server = moto(0);
    let arn = create_key(&server, test_creds());
    let case = Case::new().aws(&server);
    let (by_rsops, by_sops) = both_ways(&case, &["--kms", &arn]);
    for text in [&by_rsops, &by_sops] {
        assert!(text.contains(&format!("- arn: {arn}")), "{text}");
        assert!(text.contains("aws_profile: \"\""), "{text}");
    }
    // SOPS_KMS_ARN and a JSON file, rsops → sops.
    case.write("plain.json", "{\"a\": \"secret\", \"n\": 1}\n");
    let enc = case.ok(
        &rsops(),
        &["encrypt", "plain.json"],
        &[("SOPS_KMS_ARN", &arn)],
    );
    case.write("enc.json", &enc);
    let dec = case.ok(&sops(), &["decrypt", "enc.json"], &[]);
    let ours = case.ok(&rsops(), &["decrypt", "enc.json"], &[]);
    assert_eq!(dec, ours);
}

#[test]
fn kms_encryption_context_both_ways_and_enforced() {
    let server = moto(0);
    let arn = create_key(&server, test_creds());
    let case = Case::new().aws(&server);
    let (by_rsops, _) = both_ways(
        &case,
        &["--kms", &arn, "--encryption-context", "app:web,env:prod"],
    );
    assert!(
        by_rsops.contains("context:\n            app: web\n            env: prod\n"),
        "{by_rsops}"
    );
    // The context is bound into the ciphertext: a changed context must not decrypt, with
    // either tool, and rsops must say so with sops's exit code.
    case.write("tampered.yaml", &by_rsops.replace("env: prod", "env: dev"));
    for tool in [rsops(), sops()] {
        let out = case.run(&tool, &["decrypt", "tampered.yaml"], &[]);
        assert_eq!(
            out.status.code(),
            Some(128),
            "{}: {}",
            tool.display(),
            stderr(&out)
        );
    }
    let out = case.run(&rsops(), &["decrypt", "tampered.yaml"], &[]);
    assert!(
        stderr(&out).contains("encryption context"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kms_role_via_sts_both_ways() {
    let server = moto(0);
    let arn = create_key(&server, test_creds());
    let case = Case::new().aws(&server);
    let key = format!("{arn}+{ROLE}");
    let (by_rsops, by_sops) = both_ways(&case, &["--kms", &key]);
    for text in [&by_rsops, &by_sops] {
        assert!(text.contains(&format!("role: {ROLE}")), "{text}");
    }
    // Proof that the role is assumed through STS: with STS unreachable, it fails there.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = case.run(
        &rsops(),
        &["decrypt", "enc-rsops.yaml"],
        &[("AWS_ENDPOINT_URL_STS", &dead)],
    );
    assert_eq!(out.status.code(), Some(128));
    assert!(
        stderr(&out).contains(&format!("failed to assume role {ROLE}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kms_profile_from_shared_files_and_sops_yaml() {
    let server = moto(0);
    let arn = create_key(&server, test_creds());
    let case = Case::new().env("AWS_ENDPOINT_URL", &server.base);
    let creds = case.write(
        "aws-credentials",
        "[default]\naws_access_key_id = nope\n\n[dev]\naws_access_key_id = test\naws_secret_access_key = test\n",
    );
    let config = case.write("aws-config", "[profile dev]\nregion = eu-west-1\n");
    let case = case
        .env("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap())
        .env("AWS_CONFIG_FILE", config.to_str().unwrap());
    let (by_rsops, by_sops) = both_ways(&case, &["--kms", &arn, "--aws-profile", "dev"]);
    for text in [&by_rsops, &by_sops] {
        assert!(text.contains("aws_profile: dev"), "{text}");
    }
    // A key group in .sops.yaml with arn, context and aws_profile.
    case.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - key_groups:\n      - kms:\n          - arn: {arn}\n            aws_profile: dev\n            context:\n              team: infra\n"),
    );
    let enc = case.ok(
        &rsops(),
        &["encrypt", "--filename-override", "x.yaml", "plain.yaml"],
        &[],
    );
    assert!(
        enc.contains("team: infra") && enc.contains("aws_profile: dev"),
        "{enc}"
    );
    case.write("group.yaml", &enc);
    assert_eq!(case.ok(&sops(), &["decrypt", "group.yaml"], &[]), PLAIN);
    // An unknown profile is a clear error, not a fall-through to other credentials.
    let ghost_args = [
        "encrypt",
        "--kms",
        &arn,
        "--aws-profile",
        "ghost",
        "plain.yaml",
    ];
    let out = case.run(&rsops(), &ghost_args, &[]);
    let theirs = case.run(&sops(), &ghost_args, &[]);
    assert!(!theirs.status.success(), "sops accepted an unknown profile");
    assert_eq!(out.status.code(), theirs.status.code(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("AWS profile `ghost` not found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kms_wrong_credentials_fail_like_sops() {
    // IAM auth on after the setup calls: CreateKey, CreateUser, CreateAccessKey, PutUserPolicy.
    let server = moto(4);
    let root = test_creds();
    let arn = create_key(&server, root.clone());
    iam(
        &server,
        &root,
        &[("Action", "CreateUser"), ("UserName", "u")],
    );
    let answer = iam(
        &server,
        &root,
        &[("Action", "CreateAccessKey"), ("UserName", "u")],
    );
    let key_id = http::xml_tag(&answer, "AccessKeyId").unwrap();
    let secret = http::xml_tag(&answer, "SecretAccessKey").unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:*"],"Resource":"*"}]}"#;
    iam(
        &server,
        &root,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "u"),
            ("PolicyName", "p"),
            ("PolicyDocument", policy),
        ],
    );
    let case = Case::new()
        .env("AWS_ENDPOINT_URL", &server.base)
        .env("AWS_ACCESS_KEY_ID", &key_id);
    // The right secret: moto checks our SigV4 signature.
    let good = case.clone_with("AWS_SECRET_ACCESS_KEY", &secret);
    both_ways(&good, &["--kms", &arn]);
    let bad = good.clone_with("AWS_SECRET_ACCESS_KEY", "wrong-secret-value");
    for tool in [rsops(), sops()] {
        let started = Instant::now();
        let out = bad.run(
            &tool,
            &["decrypt", &good.path("enc-sops.yaml").to_string_lossy()],
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(128),
            "{}: {}",
            tool.display(),
            stderr(&out)
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    let out = bad.run(
        &rsops(),
        &["decrypt", &good.path("enc-sops.yaml").to_string_lossy()],
        &[],
    );
    let err = stderr(&out);
    assert!(
        err.contains("SignatureDoesNotMatch") && err.contains("check the AWS credentials"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-secret-value") && !err.contains(&secret),
        "{err}"
    );
    // Unknown access key.
    let unknown = good.clone_with("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN");
    let plain_path = good.path("plain.yaml").to_string_lossy().to_string();
    let unknown_args = ["encrypt", "--kms", &arn, &plain_path];
    let out = unknown.run(&rsops(), &unknown_args, &[]);
    let theirs = unknown.run(&sops(), &unknown_args, &[]);
    assert!(
        !theirs.status.success(),
        "sops accepted an unknown access key"
    );
    assert_eq!(out.status.code(), theirs.status.code(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("InvalidClientTokenId"),
        "{}",
        stderr(&out)
    );
}

impl Case {
    /// The same directory and environment with one variable replaced.
    fn clone_with(&self, k: &str, v: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
            }
        }
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let mut envs: Vec<(String, String)> = self
            .envs
            .iter()
            .filter(|(name, _)| name != k)
            .cloned()
            .collect();
        envs.retain(|(name, _)| name != "HOME");
        envs.push((
            "HOME".into(),
            dir.path().join("home").to_string_lossy().into(),
        ));
        envs.push((k.into(), v.into()));
        Case { dir, envs }
    }
}

#[test]
fn kms_stopped_server_fails_fast_and_age_key_still_decrypts() {
    let mut server = moto(0);
    let arn = create_key(&server, test_creds());
    let case = Case::new().aws(&server);
    let age_key = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys/age1.txt");
    let recipient = std::fs::read_to_string(&age_key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(String::from))
        .unwrap();
    let args = ["--kms", arn.as_str(), "--age", recipient.as_str()];
    case.round_trip(&rsops(), &sops(), &args, "rsops");
    case.round_trip(&sops(), &rsops(), &args, "sops");
    case.round_trip(&rsops(), &sops(), &["--kms", &arn], "kms-only");
    server.stop();
    for tool in [rsops(), sops()] {
        let started = Instant::now();
        let out = case.run(&tool, &["decrypt", "enc-kms-only.yaml"], &[]);
        assert_eq!(
            out.status.code(),
            Some(128),
            "{}: {}",
            tool.display(),
            stderr(&out)
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} took {:?}",
            tool.display(),
            started.elapsed()
        );
    }
    let out = case.run(&rsops(), &["decrypt", "enc-kms-only.yaml"], &[]);
    let err = stderr(&out);
    assert!(
        err.contains("connection refused") || err.contains("could not connect"),
        "{err}"
    );
    assert!(err.contains(&server.base), "{err}");
    // The same files with an age key beside KMS decrypt through age while KMS is down.
    let age_env = [("SOPS_AGE_KEY_FILE", age_key.to_str().unwrap())];
    for file in ["enc-rsops.yaml", "enc-sops.yaml"] {
        assert_eq!(
            case.ok(&rsops(), &["decrypt", file], &age_env),
            PLAIN,
            "{file}"
        );
        assert_eq!(
            case.ok(&sops(), &["decrypt", file], &age_env),
            PLAIN,
            "{file}"
        );
    }
}

fn vault_case(server: &Server) -> Case {
    Case::new()
        .env("VAULT_TOKEN", "root")
        .env("VAULT_ADDR", &server.base)
}

#[test]
fn vault_transit_both_ways() {
    let server = openbao();
    let case = vault_case(&server);
    let uri = format!("{}/v1/transit/keys/k1", server.base);
    let (by_rsops, by_sops) = both_ways(&case, &["--hc-vault-transit", &uri]);
    for text in [&by_rsops, &by_sops] {
        assert!(
            text.contains(&format!("vault_address: {}", server.base)),
            "{text}"
        );
        assert!(
            text.contains("engine_path: transit\n") && text.contains("key_name: k1\n"),
            "{text}"
        );
        assert!(text.contains("enc: vault:v1:"), "{text}");
    }
    // SOPS_VAULT_URIS with two keys, and a .sops.yaml rule.
    let both = format!("{uri},{}/v1/transit/keys/k2", server.base);
    let enc = case.ok(
        &rsops(),
        &["encrypt", "plain.yaml"],
        &[("SOPS_VAULT_URIS", &both)],
    );
    assert_eq!(enc.matches("vault_address:").count(), 2, "{enc}");
    case.write("two.yaml", &enc);
    assert_eq!(case.ok(&sops(), &["decrypt", "two.yaml"], &[]), PLAIN);
    case.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: \\.yaml$\n    hc_vault_transit_uri: {uri}\n"),
    );
    let enc = case.ok(&rsops(), &["encrypt", "plain.yaml"], &[]);
    case.write("rule.yaml", &enc);
    assert_eq!(case.ok(&sops(), &["decrypt", "rule.yaml"], &[]), PLAIN);
}

#[test]
fn vault_token_file_wrong_token_and_stopped_server() {
    let mut server = openbao();
    let case = vault_case(&server);
    let uri = format!("{}/v1/transit/keys/k1", server.base);
    case.round_trip(&sops(), &rsops(), &["--hc-vault-transit", &uri], "sops");
    // ~/.vault-token when VAULT_TOKEN is unset.
    let home = case
        .envs
        .iter()
        .find(|(k, _)| k == "HOME")
        .unwrap()
        .1
        .clone();
    std::fs::write(Path::new(&home).join(".vault-token"), "root\n").unwrap();
    let no_env = case.clone_with("VAULT_TOKEN", "");
    std::fs::write(no_env.path("home/.vault-token"), "root\n").unwrap();
    assert_eq!(
        no_env.ok(&rsops(), &["decrypt", "enc-sops.yaml"], &[]),
        PLAIN
    );
    let wrong = case.clone_with("VAULT_TOKEN", "not-the-token");
    for tool in [rsops(), sops()] {
        let out = wrong.run(&tool, &["decrypt", "enc-sops.yaml"], &[]);
        assert_eq!(
            out.status.code(),
            Some(128),
            "{}: {}",
            tool.display(),
            stderr(&out)
        );
    }
    let out = wrong.run(&rsops(), &["decrypt", "enc-sops.yaml"], &[]);
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 403: permission denied") && err.contains("check VAULT_TOKEN"),
        "{err}"
    );
    assert!(!err.contains("not-the-token"), "{err}");
    server.stop();
    for tool in [rsops(), sops()] {
        let started = Instant::now();
        let out = case.run(&tool, &["decrypt", "enc-sops.yaml"], &[]);
        assert_eq!(
            out.status.code(),
            Some(128),
            "{}: {}",
            tool.display(),
            stderr(&out)
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

#[test]
fn rotate_and_updatekeys_with_kms_and_vault() {
    let moto_server = moto(0);
    let bao = openbao();
    let arn = create_key(&moto_server, test_creds());
    let uri = format!("{}/v1/transit/keys/k1", bao.base);
    let case = Case::new().aws(&moto_server).env("VAULT_TOKEN", "root");
    let age_key = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys/age1.txt");
    let age_env = [("SOPS_AGE_KEY_FILE", age_key.to_str().unwrap())];
    let recipient = std::fs::read_to_string(&age_key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(String::from))
        .unwrap();
    let enc = case.ok(
        &rsops(),
        &["encrypt", "--age", &recipient, "plain.yaml"],
        &[],
    );
    case.write("f.yaml", &enc);
    case.ok(
        &rsops(),
        &[
            "rotate",
            "-i",
            "--add-kms",
            &arn,
            "--add-hc-vault-transit",
            &uri,
            "f.yaml",
        ],
        &age_env,
    );
    let text = std::fs::read_to_string(case.path("f.yaml")).unwrap();
    assert!(
        text.contains(&format!("- arn: {arn}")) && text.contains("enc: vault:v1:"),
        "{text}"
    );
    // Without the age key, sops reaches the data key through KMS or Vault.
    assert_eq!(case.ok(&sops(), &["decrypt", "f.yaml"], &[]), PLAIN);
    assert_eq!(
        case.ok(
            &sops(),
            &["decrypt", "f.yaml"],
            &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]
        ),
        PLAIN
    );
    case.ok(&rsops(), &["rotate", "-i", "--rm-kms", &arn, "f.yaml"], &[]);
    let text = std::fs::read_to_string(case.path("f.yaml")).unwrap();
    assert!(
        !text.contains("arn:") && text.contains("hc_vault:"),
        "{text}"
    );
    // updatekeys brings the file to the rule's keys: age + kms with a context.
    case.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - key_groups:\n      - age: [{recipient}]\n        kms:\n          - arn: {arn}\n            context: {{app: x}}\n"),
    );
    case.ok(&rsops(), &["updatekeys", "-y", "f.yaml"], &[]);
    let text = std::fs::read_to_string(case.path("f.yaml")).unwrap();
    assert!(
        text.contains("app: x") && !text.contains("hc_vault"),
        "{text}"
    );
    assert_eq!(case.ok(&sops(), &["decrypt", "f.yaml"], &[]), PLAIN);
}

#[test]
fn kms_web_identity_and_profile_role_chain() {
    let server = moto(0);
    let arn = create_key(&server, test_creds());
    // Web identity (EKS, GitHub Actions OIDC): no keys in the environment at all.
    let case = Case::new().env("AWS_ENDPOINT_URL", &server.base);
    let token = case.write(
        "oidc-token",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyc29wcyJ9.c2ln\n",
    );
    let web = case
        .clone_with("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap())
        .clone_with("AWS_ROLE_ARN", ROLE);
    std::fs::copy(&token, web.path("oidc-token")).unwrap();
    let web = web.clone_with(
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        web.path("oidc-token").to_str().unwrap(),
    );
    // rsops only: sops's web-identity and profile-role STS clients ignore AWS_ENDPOINT_URL and
    // would go to the real AWS, which tests must never do. The file format is the same as in
    // the tests above, which sops reads.
    web.round_trip(&rsops(), &rsops(), &["--kms", &arn], "web");
    // A profile that assumes a role from another profile's keys.
    let config = case.write(
        "aws-config",
        &format!("[profile base]\naws_access_key_id = test\naws_secret_access_key = test\n\n[profile deploy]\nrole_arn = {ROLE}\nsource_profile = base\n"),
    );
    let prof = case
        .clone_with("AWS_CONFIG_FILE", config.to_str().unwrap())
        .clone_with("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    let prof = prof.clone_with("AWS_CONFIG_FILE", prof.path("aws-config").to_str().unwrap());
    prof.round_trip(
        &rsops(),
        &rsops(),
        &["--kms", &arn, "--aws-profile", "deploy"],
        "prof",
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = prof.run(
        &rsops(),
        &["decrypt", "enc-prof.yaml"],
        &[("AWS_ENDPOINT_URL_STS", &dead)],
    );
    assert_eq!(out.status.code(), Some(128));
    assert!(
        stderr(&out).contains("failed to assume role"),
        "{}",
        stderr(&out)
    );
}

/// `SOPS_HC_VAULT_ALLOWLIST` (sops 3.13; 3.11 has no such variable, so the expectations come
/// from `hcvault/keysource.go` at v3.13.2): the server's own address lets encrypt and decrypt
/// through; `none`, another port or a longer host refuse before any call, and a malformed
/// list is an error naming the empty entry.
#[test]
fn vault_allowlist_like_sops_313() {
    let server = openbao();
    let case = vault_case(&server);
    let uri = format!("{}/v1/transit/keys/k1", server.base);
    let allow = |list: &str| vec![("SOPS_HC_VAULT_ALLOWLIST", list.to_string())];
    for list in [
        server.base.clone(),
        format!("{}/", server.base),
        "all".into(),
    ] {
        let env = allow(&list);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let enc = case.ok(
            &rsops(),
            &["encrypt", "--hc-vault-transit", &uri, "plain.yaml"],
            &env,
        );
        case.write("allowed.yaml", &enc);
        assert_eq!(case.ok(&rsops(), &["decrypt", "allowed.yaml"], &env), PLAIN);
    }
    let other_port = server.base.rsplit_once(':').unwrap().0.to_string() + ":1";
    let longer = format!("{}0", server.base);
    for (list, message) in [
        (
            "none".to_string(),
            format!("Allowlist does not allow {}", server.base),
        ),
        (
            other_port,
            format!("Allowlist does not allow {}", server.base),
        ),
        (longer, format!("Allowlist does not allow {}", server.base)),
        (
            format!("{},", server.base),
            "SOPS_HC_VAULT_ALLOWLIST's entry 2 is empty".into(),
        ),
    ] {
        for args in [
            vec!["encrypt", "--hc-vault-transit", &uri, "plain.yaml"],
            vec!["decrypt", "allowed.yaml"],
        ] {
            let out = case.run(&rsops(), &args, &[("SOPS_HC_VAULT_ALLOWLIST", &list)]);
            assert!(
                !out.status.success() && out.stdout.is_empty(),
                "{list} {args:?}"
            );
            assert!(stderr(&out).contains(&message), "{list}: {}", stderr(&out));
        }
    }
}
