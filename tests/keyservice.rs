//! sops's key service protocol against the real sops 3.11.0, both ways: `rsops keyservice`
//! serving `sops --keyservice … --enable-local-keyservice=false`, and `sops keyservice` serving
//! rsops, for age, PGP and AWS KMS (on moto). The client side always runs in a sandbox with no
//! keys at all, so every wrap and unwrap must have crossed the socket; a plain decrypt in the
//! same sandbox is checked to fail. Each server is a child process killed by pid on drop.
#![cfg(all(feature = "keyservice", feature = "aws-kms"))]

mod common;

use common::services::{aws_env, create_kms_key, moto};
use common::{rsops, sops, Key, Outcome, Sandbox, Tool};
use rsops::keys::age::AgeIdentities;
use rsops::keys::discovery::Env;
use rsops::keys::KeyUnwrapper;
use rsops::metadata::KeyStanza;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const PLAIN: &[u8] = b"db:\n    user: admin\n    password: hunter2\nport: 5432\n";

/// A key service child process on a unix socket in a private directory.
struct KeyServer {
    child: Child,
    dir: tempfile::TempDir,
}

impl KeyServer {
    /// `tool keyservice --verbose` with `holder`'s keys and `env`; waits for its socket.
    fn start(tool: &Tool, holder: &Sandbox, env: &[(&str, String)]) -> KeyServer {
        KeyServer::start_with(tool, holder, env, None)
    }

    /// With `--prompt`, `answers` on its stdin and its stdout kept in `server.out`.
    fn prompting(tool: &Tool, holder: &Sandbox, answers: &str) -> KeyServer {
        KeyServer::start_with(tool, holder, &[], Some(answers))
    }

    fn start_with(
        tool: &Tool,
        holder: &Sandbox,
        env: &[(&str, String)],
        answers: Option<&str>,
    ) -> KeyServer {
        let dir = tempfile::Builder::new()
            .prefix("ks")
            .tempdir_in("/tmp")
            .unwrap();
        let socket = dir.path().join("s.sock");
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let out = std::fs::File::create(dir.path().join("server.out")).unwrap();
        let mut cmd = holder.command(tool, &holder.work());
        cmd.arg("keyservice")
            .args(["--network", "unix", "--address"])
            .arg(&socket)
            .arg("--verbose")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(out)
            .stderr(log);
        if answers.is_some() {
            cmd.arg("--prompt").stdin(Stdio::piped());
        }
        let mut server = KeyServer {
            child: cmd.spawn().expect("start the key service"),
            dir,
        };
        if let Some(answers) = answers {
            use std::io::Write;
            let mut stdin = server.child.stdin.take().unwrap();
            stdin.write_all(answers.as_bytes()).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "{} keyservice exited ({status}): {}",
                    tool.name,
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} keyservice never listened",
                tool.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("s.sock")
    }

    fn uri(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn out(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.out")).unwrap_or_default()
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sandbox with no keys and none of the caller's cloud credentials.
struct KeylessClient {
    sandbox: Sandbox,
}

impl KeylessClient {
    fn new() -> KeylessClient {
        let sandbox = Sandbox::new(&[]);
        sandbox.put("plain.yaml", PLAIN);
        KeylessClient { sandbox }
    }

    fn run(&self, tool: &Tool, args: &[&str]) -> Outcome {
        let mut cmd = self.sandbox.command(tool, &self.sandbox.work());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(name);
            }
        }
        let out = cmd
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(args)
            .output()
            .unwrap();
        Outcome {
            command: format!("{} {}", tool.name, args.join(" ")),
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    /// `tool SUBCOMMAND --keyservice URI --enable-local-keyservice=false args…`: sops reads
    /// these flags after the subcommand only (before it, they are silently ignored).
    fn remote(&self, tool: &Tool, server: &KeyServer, args: &[&str]) -> Outcome {
        let uri = server.uri();
        let mut all = vec![
            args[0],
            "--keyservice",
            &uri,
            "--enable-local-keyservice=false",
        ];
        all.extend_from_slice(&args[1..]);
        self.run(tool, &all)
    }
}

fn ok(out: Outcome) -> Vec<u8> {
    assert!(out.ok(), "{}", out.summary());
    out.stdout
}

/// Encrypts and decrypts through `server_tool keyservice` with `client_tool`, then checks the
/// keyless client cannot decrypt alone and that the key holder opens the file with the other
/// tool's local keys. Returns the encrypted file.
fn round_trip(
    server: &KeyServer,
    client_tool: &Tool,
    other_tool: &Tool,
    holder: &Sandbox,
    holder_env: &[(&str, String)],
    key_args: &[&str],
) -> Vec<u8> {
    let client = KeylessClient::new();
    let mut encrypt = vec!["encrypt"];
    encrypt.extend_from_slice(key_args);
    encrypt.push("plain.yaml");
    let encrypted = ok(client.remote(client_tool, server, &encrypt));
    client.sandbox.put("enc.yaml", &encrypted);
    let decrypted = ok(client.remote(client_tool, server, &["decrypt", "enc.yaml"]));
    assert_eq!(
        decrypted, PLAIN,
        "{} through the key service",
        client_tool.name
    );
    let alone = client.run(client_tool, &["decrypt", "enc.yaml"]);
    assert_eq!(
        alone.code,
        128,
        "a keyless client must not decrypt: {}",
        alone.summary()
    );
    holder.put("enc.yaml", &encrypted);
    let local = holder.run_in(
        other_tool,
        &holder.work(),
        &["decrypt", "enc.yaml"],
        &holder_env
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    );
    assert_eq!(ok(local), PLAIN, "{} with local keys", other_tool.name);
    encrypted
}

fn age_pgp_args() -> Vec<String> {
    vec![
        "--age".into(),
        Key::Age1.recipient(),
        "--pgp".into(),
        Key::PgpRsa.recipient(),
    ]
}

/// The file's data key, recovered with the test's own age identity.
fn data_key(encrypted: &[u8]) -> Vec<u8> {
    let store = rsops::stores::store_for(
        rsops::stores::Format::Yaml,
        rsops::stores::StoreOptions::default(),
    );
    let file = rsops::file::EncryptedFile::load(store.as_ref(), encrypted).unwrap();
    let stanza = file.meta.key_groups[0]
        .keys
        .iter()
        .find(|k| matches!(k, KeyStanza::Age(_)))
        .expect("an age stanza")
        .clone();
    let key_file = common::repo_root().join("keys/age1.txt");
    let ids = AgeIdentities::with_env(Env::from_pairs([(
        "SOPS_AGE_KEY_FILE",
        key_file.to_str().unwrap(),
    )]));
    ids.unwrap(&stanza).unwrap().unwrap().to_vec()
}

/// Neither the data key (raw, hex, base64) nor a plaintext value shows in `log`.
fn assert_no_secret(log: &[u8], data_key: &[u8], what: &str) {
    use base64::Engine;
    let text = String::from_utf8_lossy(log);
    let forms = [
        hex::encode(data_key),
        hex::encode_upper(data_key),
        base64::engine::general_purpose::STANDARD.encode(data_key),
        "hunter2".to_string(),
    ];
    for form in &forms {
        assert!(!text.contains(form.as_str()), "{what} shows a secret");
    }
    assert!(
        !log.windows(data_key.len()).any(|w| w == data_key),
        "{what} shows the raw data key"
    );
}

#[test]
fn sops_client_through_rsops_keyservice_age_and_pgp() {
    let holder = Sandbox::new(&[Key::Age1, Key::PgpRsa]);
    let server = KeyServer::start(&rsops(), &holder, &[]);
    let args = age_pgp_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let encrypted = round_trip(&server, &sops(), &sops(), &holder, &[], &args);
    let log = server.log();
    assert!(log.contains("Listening on unix://"), "{log}");
    assert!(log.contains("encrypted a data key with age key"), "{log}");
    assert!(log.contains("encrypted a data key with PGP key"), "{log}");
    assert!(log.contains("decrypted a data key with"), "{log}");
    assert_no_secret(
        log.as_bytes(),
        &data_key(&encrypted),
        "rsops keyservice --verbose",
    );
}

#[test]
fn rsops_client_through_sops_keyservice_age_and_pgp() {
    let holder = Sandbox::new(&[Key::Age1, Key::PgpRsa]);
    let server = KeyServer::start(&sops(), &holder, &[]);
    let args = age_pgp_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let encrypted = round_trip(&server, &rsops(), &sops(), &holder, &[], &args);
    // rsops's own --verbose, as a client: which key opened the data key, never the key.
    let client = KeylessClient::new();
    client.sandbox.put("enc.yaml", &encrypted);
    let out = client.remote(&rsops(), &server, &["decrypt", "--verbose", "enc.yaml"]);
    assert_eq!(out.stdout, PLAIN, "{}", out.summary());
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to key service unix://"));
    assert_no_secret(&out.stderr, &data_key(&encrypted), "rsops --verbose");
    // The environment's spelling, and a command that unwraps and wraps (rotate) through it.
    let mut cmd = client.sandbox.command(&rsops(), &client.sandbox.work());
    let rotated = cmd
        .env("SOPS_KEYSERVICE", server.uri())
        .env("SOPS_ENABLE_LOCAL_KEYSERVICE", "false")
        .args(["rotate", "-i", "enc.yaml"])
        .output()
        .unwrap();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let after = std::fs::read(client.sandbox.work().join("enc.yaml")).unwrap();
    assert_ne!(
        data_key(&after),
        data_key(&encrypted),
        "rotate made a new data key"
    );
    holder.put("rotated.yaml", &after);
    assert_eq!(ok(holder.run(&sops(), &["decrypt", "rotated.yaml"])), PLAIN);
}

#[test]
fn aws_kms_on_moto_through_the_key_service_both_ways() {
    let moto = moto();
    let arn = create_kms_key(&moto);
    let env = aws_env(&moto);
    let holder = Sandbox::new(&[]);
    for (server_tool, client_tool) in [(rsops(), sops()), (sops(), rsops())] {
        let server = KeyServer::start(&server_tool, &holder, &env);
        let encrypted = round_trip(
            &server,
            &client_tool,
            &server_tool,
            &holder,
            &env,
            &["--kms", &arn],
        );
        assert!(String::from_utf8_lossy(&encrypted).contains(&arn));
    }
}

#[test]
fn rsops_keyservice_answers_an_rsops_client() {
    let holder = Sandbox::new(&[Key::Age1]);
    let server = KeyServer::start(&rsops(), &holder, &[]);
    let recipient = Key::Age1.recipient();
    round_trip(
        &server,
        &rsops(),
        &sops(),
        &holder,
        &[],
        &["--age", &recipient],
    );
}

#[test]
fn a_service_that_is_down_fails_with_the_key_report() {
    let client = KeylessClient::new();
    let holder = Sandbox::new(&[Key::Age1]);
    let recipient = Key::Age1.recipient();
    holder.put("plain.yaml", PLAIN);
    let encrypted = ok(holder.run(&rsops(), &["encrypt", "--age", &recipient, "plain.yaml"]));
    client.sandbox.put("enc.yaml", &encrypted);
    let gone = client.sandbox.work().join("gone.sock");
    let uri = format!("unix://{}", gone.display());
    let out = client.run(
        &rsops(),
        &[
            "--keyservice",
            &uri,
            "--enable-local-keyservice=false",
            "decrypt",
            "enc.yaml",
        ],
    );
    assert_eq!(out.code, 128, "{}", out.summary());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Failed to get the data key required to decrypt the SOPS file."),
        "{err}"
    );
    assert!(err.contains("rpc error: code = Unavailable"), "{err}");
    assert!(err.contains(&uri), "{err}");
}

/// A server that accepts connections and never answers: the client gives up after
/// `RSOPS_KEYSERVICE_TIMEOUT` with gRPC's DeadlineExceeded (or Unavailable, when the HTTP/2
/// handshake is what never completes), names the service, and hints at it.
#[test]
fn a_service_that_never_answers_is_given_up_on() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("tcp://{}", silent.local_addr().unwrap());
    let holder = Sandbox::new(&[Key::Age1]);
    holder.put("plain.yaml", PLAIN);
    let recipient = Key::Age1.recipient();
    let encrypted = ok(holder.run(&rsops(), &["encrypt", "--age", &recipient, "plain.yaml"]));
    let client = KeylessClient::new();
    client.sandbox.put("enc.yaml", &encrypted);
    let out = client.sandbox.run_in(
        &rsops(),
        &client.sandbox.work(),
        &[
            "decrypt",
            "--keyservice",
            &uri,
            "--enable-local-keyservice=false",
            "enc.yaml",
        ],
        &[("RSOPS_KEYSERVICE_TIMEOUT", "2")],
    );
    assert_eq!(out.code, 128, "{}", out.summary());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("code = DeadlineExceeded") || err.contains("code = Unavailable"),
        "{err}"
    );
    assert!(err.contains("within 2s") && err.contains(&uri), "{err}");
    assert!(err.contains("hint: start the key service"), "{err}");
    drop(silent);
}

/// `--prompt`: the first request is refused ("n"), the second served ("y"); sops sees the
/// refusal in gRPC's words.
#[test]
fn prompt_refuses_then_allows_a_sops_client() {
    let holder = Sandbox::new(&[Key::Age1]);
    holder.put("plain.yaml", PLAIN);
    let recipient = Key::Age1.recipient();
    let encrypted = ok(holder.run(&rsops(), &["encrypt", "--age", &recipient, "plain.yaml"]));
    let server = KeyServer::prompting(&rsops(), &holder, "n\ny\n");
    let client = KeylessClient::new();
    client.sandbox.put("enc.yaml", &encrypted);
    let refused = client.remote(&sops(), &server, &["decrypt", "enc.yaml"]);
    assert_eq!(refused.code, 128, "{}", refused.summary());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("code = PermissionDenied"), "{err}");
    // sops wraps its report at 80 columns.
    assert!(err.contains("desc = Request rejected"), "{err}");
    let served = ok(client.remote(&sops(), &server, &["decrypt", "enc.yaml"]));
    assert_eq!(served, PLAIN);
    let asked = server.out();
    let question = format!(
        "Received decrypt request using age key with recipient {recipient}. Respond to request? (y/n): "
    );
    assert_eq!(asked.matches(&question).count(), 2, "{asked}");
}
