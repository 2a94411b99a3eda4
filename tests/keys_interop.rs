//! The age and OpenPGP key sources against the real tools: `age` 1.1 and GnuPG 2.2.
//!
//! Every test gets its own environment snapshot (`Env::from_pairs`), temp HOME and GNUPGHOME,
//! so tests never touch the user's keys or each other.

use rsops::keys::age::{parse_recipients, AgeIdentities, AgeRecipient};
use rsops::keys::discovery::Env;
use rsops::keys::pgp::{PgpDecryptor, PgpKey};
use rsops::keys::{KeyUnwrapper, MasterKey};
use rsops::metadata::{AgeStanza, KeyStanza, PgpStanza};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tempfile::TempDir;

const RSA_FP: &str = "1BA4BB945673E83C054AF26813DC73C8F49DE51A";
const ED_FP: &str = "B3E82AFFABA9BC4FEB82341074F6E68C852E6B18";
const SECRET: [u8; 32] = *b"0123456789abcdef0123456789ABCDEF";

fn key_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("keys")
        .join(name)
}

fn key_str(name: &str) -> String {
    key_path(name).to_str().unwrap().to_string()
}

/// The `# public key:` line of an age identity file.
fn age_public(name: &str) -> String {
    let text = std::fs::read_to_string(key_path(name)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string()
}

fn age_secret(name: &str) -> String {
    let text = std::fs::read_to_string(key_path(name)).unwrap();
    text.lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string()
}

/// Runs a tool with stdin, expecting success; returns stdout. The key-source variables of the
/// caller's environment are removed, so only `envs` decide which keys the tool sees.
fn run(program: &str, args: &[&str], envs: &[(&str, &str)], stdin: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(program);
    for var in [
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "SOPS_GPG_EXEC",
        "GNUPGHOME",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn unwrap_ok(unwrapper: &dyn KeyUnwrapper, stanza: &KeyStanza) -> Vec<u8> {
    match unwrapper.unwrap(stanza) {
        Some(Ok(secret)) => secret.to_vec(),
        Some(Err(e)) => panic!("unwrap failed: {e}"),
        None => panic!("stanza not claimed"),
    }
}

fn age_stanza(recipient: &str, enc: Vec<u8>) -> KeyStanza {
    KeyStanza::Age(AgeStanza {
        recipient: recipient.to_string(),
        enc: String::from_utf8(enc).unwrap(),
    })
}

fn age_enc(stanza: &KeyStanza) -> &str {
    match stanza {
        KeyStanza::Age(s) => &s.enc,
        other => panic!("not age: {other:?}"),
    }
}

fn pgp_enc(stanza: &KeyStanza) -> &str {
    match stanza {
        KeyStanza::Pgp(s) => &s.enc,
        other => panic!("not pgp: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// age

#[test]
fn age_x25519_our_wrap_decrypts_with_age_cli() {
    let recipient = age_public("age1.txt");
    let stanza = AgeRecipient::parse(&recipient)
        .unwrap()
        .wrap(&SECRET)
        .unwrap();
    let enc = age_enc(&stanza);
    assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
    assert!(enc.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
    let plain = run(
        "age",
        &["-d", "-i", &key_str("age1.txt")],
        &[],
        enc.as_bytes(),
    );
    assert_eq!(plain, SECRET);
}

#[test]
fn age_x25519_age_cli_output_unwraps() {
    let recipient = age_public("age1.txt");
    let enc = run("age", &["-a", "-r", &recipient], &[], &SECRET);
    let ids = AgeIdentities::with_env(Env::from_pairs([(
        "SOPS_AGE_KEY_FILE",
        key_str("age1.txt"),
    )]));
    assert_eq!(unwrap_ok(&ids, &age_stanza(&recipient, enc)), SECRET);
}

#[test]
fn age_ssh_recipients_both_ways() {
    for name in ["ssh_ed25519", "ssh_rsa"] {
        let public = std::fs::read_to_string(key_path(&format!("{name}.pub"))).unwrap();
        let key = AgeRecipient::parse(&public).unwrap();
        assert_eq!(key.identity(), public.trim());
        let stanza = key.wrap(&SECRET).unwrap();
        let plain = run(
            "age",
            &["-d", "-i", &key_str(name)],
            &[],
            age_enc(&stanza).as_bytes(),
        );
        assert_eq!(plain, SECRET, "{name}: ours → age");

        let enc = run(
            "age",
            &["-a", "-R", &key_str(&format!("{name}.pub"))],
            &[],
            &SECRET,
        );
        let ids = AgeIdentities::with_env(Env::from_pairs([(
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            key_str(name),
        )]));
        assert_eq!(
            unwrap_ok(&ids, &age_stanza(public.trim(), enc)),
            SECRET,
            "{name}: age → ours"
        );
    }
}

#[test]
fn age_default_ssh_keys_in_home_are_used() {
    let home = TempDir::new().unwrap();
    let ssh = home.path().join(".ssh");
    std::fs::create_dir(&ssh).unwrap();
    std::fs::copy(key_path("ssh_ed25519"), ssh.join("id_ed25519")).unwrap();
    std::fs::copy(key_path("ssh_rsa"), ssh.join("id_rsa")).unwrap();
    let env = Env::from_pairs([("HOME", home.path().to_str().unwrap())]);
    for name in ["ssh_ed25519", "ssh_rsa"] {
        let public = std::fs::read_to_string(key_path(&format!("{name}.pub"))).unwrap();
        let stanza = AgeRecipient::parse(&public).unwrap().wrap(&SECRET).unwrap();
        let ids = AgeIdentities::with_env(env.clone());
        assert_eq!(unwrap_ok(&ids, &stanza), SECRET, "{name}");
    }
}

/// Wraps for age2.txt's recipient and checks that `env` finds its identity.
fn assert_env_finds_age2(env: Env, what: &str) {
    let recipient = age_public("age2.txt");
    let stanza = AgeRecipient::parse(&recipient)
        .unwrap()
        .wrap(&SECRET)
        .unwrap();
    let ids = AgeIdentities::with_env(env);
    match ids.unwrap(&stanza) {
        Some(Ok(secret)) => assert_eq!(secret.as_slice(), SECRET, "{what}"),
        other => panic!("{what}: {:?}", other.map(|r| r.map(|_| ()))),
    }
}

#[test]
fn age_identity_sources_each_work() {
    let home = TempDir::new().unwrap();
    let home_s = home.path().to_str().unwrap().to_string();
    let age1 = age_secret("age1.txt");
    let age2 = age_secret("age2.txt");

    // SOPS_AGE_KEY: several keys, on one line and on several, with comments.
    let several = format!("# mine\n{age1} {age2}\n\n# other\n{age1}\n");
    assert_env_finds_age2(
        Env::from_pairs([
            ("HOME", home_s.as_str()),
            ("SOPS_AGE_KEY", several.as_str()),
        ]),
        "SOPS_AGE_KEY",
    );

    // SOPS_AGE_KEY_FILE
    assert_env_finds_age2(
        Env::from_pairs([
            ("HOME", home_s.clone()),
            ("SOPS_AGE_KEY_FILE", key_str("age2.txt")),
        ]),
        "SOPS_AGE_KEY_FILE",
    );

    // SOPS_AGE_KEY_CMD: no shell, told the recipient.
    let recipient = age_public("age2.txt");
    let script = home.path().join("keycmd.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n[ \"$SOPS_AGE_RECIPIENT\" = \"{recipient}\" ] || exit 3\ncat \"$1\"\n"),
    )
    .unwrap();
    let cmd = format!("sh '{}' '{}'", script.display(), key_str("age2.txt"));
    assert_env_finds_age2(
        Env::from_pairs([
            ("HOME", home_s.as_str()),
            ("SOPS_AGE_KEY_CMD", cmd.as_str()),
        ]),
        "SOPS_AGE_KEY_CMD",
    );

    // $XDG_CONFIG_HOME/sops/age/keys.txt
    let xdg = home.path().join("xdg");
    std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
    std::fs::copy(key_path("age2.txt"), xdg.join("sops/age/keys.txt")).unwrap();
    assert_env_finds_age2(
        Env::from_pairs([
            ("HOME", home_s.as_str()),
            ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
        ]),
        "XDG_CONFIG_HOME",
    );

    // ~/.config/sops/age/keys.txt when XDG_CONFIG_HOME is unset.
    std::fs::create_dir_all(home.path().join(".config/sops/age")).unwrap();
    std::fs::copy(
        key_path("age2.txt"),
        home.path().join(".config/sops/age/keys.txt"),
    )
    .unwrap();
    assert_env_finds_age2(Env::from_pairs([("HOME", home_s.as_str())]), "~/.config");
}

#[test]
fn age_sources_are_merged() {
    // age1 from the env var, age2 only from the key file: both stanzas must unwrap.
    let home = TempDir::new().unwrap();
    let env = Env::from_pairs([
        ("HOME", home.path().to_str().unwrap().to_string()),
        ("SOPS_AGE_KEY", age_secret("age1.txt")),
        ("SOPS_AGE_KEY_FILE", key_str("age2.txt")),
    ]);
    let ids = AgeIdentities::with_env(env);
    let keys = parse_recipients(&format!(
        "{} ,{}",
        age_public("age1.txt"),
        age_public("age2.txt")
    ))
    .unwrap();
    for key in keys {
        assert_eq!(unwrap_ok(&ids, &key.wrap(&SECRET).unwrap()), SECRET);
    }
}

#[test]
fn age_failure_names_sources_and_hint() {
    let home = TempDir::new().unwrap();
    let stanza = AgeRecipient::parse(&age_public("age2.txt"))
        .unwrap()
        .wrap(&SECRET)
        .unwrap();
    let env = Env::from_pairs([
        ("HOME", home.path().to_str().unwrap().to_string()),
        ("SOPS_AGE_KEY_FILE", key_str("age1.txt")),
        ("SOPS_AGE_KEY_CMD", "false".to_string()),
    ]);
    let err = AgeIdentities::with_env(env)
        .unwrap(&stanza)
        .unwrap()
        .unwrap_err()
        .to_string();
    let tried = format!(
        "Tried the identities from SOPS_AGE_KEY_FILE ({})",
        key_str("age1.txt")
    );
    assert!(err.contains(&tried), "{err}");
    assert!(err.contains("failed to execute command false"), "{err}");
    assert!(err.contains("Set SOPS_AGE_KEY_FILE"), "{err}");
    assert!(!err.contains(&age_secret("age1.txt")), "{err}");
}

// ---------------------------------------------------------------------------------------------
// OpenPGP

/// A throwaway GnuPG home; its agent is stopped on drop.
struct GnupgHome {
    dir: TempDir,
}

impl GnupgHome {
    fn with_keys(files: &[&str]) -> GnupgHome {
        let dir = TempDir::new().unwrap();
        let home = GnupgHome { dir };
        for file in files {
            home.gpg(&["--batch", "--import", &key_str(file)], b"");
        }
        home
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn gpg(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut all = vec!["--homedir", self.path()];
        all.extend_from_slice(args);
        run("gpg", &all, &[], stdin)
    }

    fn env(&self, extra: &[(&str, String)]) -> Env {
        let mut pairs = vec![("GNUPGHOME".to_string(), self.path().to_string())];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        Env::from_pairs(pairs)
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--homedir", self.path(), "--kill", "gpg-agent"])
            .status();
    }
}

/// `gpg --list-packets` of an armored message (needs no secret key with --list-only).
fn packets(home: &GnupgHome, enc: &str) -> String {
    let out = Command::new("gpg")
        .args(["--homedir", home.path(), "--list-packets", "--list-only"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(enc.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pgp_stanza(fp: &str, enc: Vec<u8>) -> KeyStanza {
    KeyStanza::Pgp(PgpStanza {
        fp: fp.to_string(),
        created_at: "2026-01-01T00:00:00Z".to_string(),
        enc: String::from_utf8(enc).unwrap().trim().to_string(),
    })
}

#[test]
fn pgp_our_wrap_decrypts_with_gpg() {
    let public = GnupgHome::with_keys(&["pgp_rsa.pub.asc", "pgp_ed25519.pub.asc"]);
    let secret = GnupgHome::with_keys(&["pgp_rsa.sec.asc", "pgp_ed25519.sec.asc"]);
    for fp in [RSA_FP, ED_FP] {
        // The cert comes from `gpg --export` (pubring.kbx); encryption is in-process.
        let key = PgpKey::with_env(fp, public.env(&[])).unwrap();
        let stanza = key.wrap(&SECRET).unwrap();
        let KeyStanza::Pgp(s) = &stanza else { panic!() };
        assert_eq!(s.fp, fp);
        assert_eq!(s.created_at.len(), "2026-01-01T00:00:00Z".len());
        assert!(
            s.enc.starts_with("-----BEGIN PGP MESSAGE-----\n\n"),
            "{}",
            s.enc
        );
        assert!(s.enc.ends_with("\n-----END PGP MESSAGE-----"), "{}", s.enc);
        assert!(s.enc.lines().all(|l| l.len() <= 64));

        let listing = packets(&secret, &s.enc);
        assert!(
            listing.contains(":pubkey enc packet: version 3"),
            "{listing}"
        );
        assert!(listing.contains(":encrypted data packet:"), "{listing}");
        assert!(listing.contains("mdc_method: 2"), "{listing}");

        let plain = secret.gpg(&["--batch", "-d"], s.enc.as_bytes());
        assert_eq!(plain, SECRET, "{fp}");
    }
}

#[test]
fn pgp_wrap_from_key_file_and_legacy_pubring_without_gpg() {
    let secret = GnupgHome::with_keys(&["pgp_rsa.sec.asc", "pgp_ed25519.sec.asc"]);
    let no_gpg = ("SOPS_GPG_EXEC", "/nonexistent/gpg".to_string());

    // RSOPS_PGP_PUBLIC_KEYS: an armored keyring (two certs concatenated).
    let dir = TempDir::new().unwrap();
    let ring = dir.path().join("ring.asc");
    let mut both = std::fs::read(key_path("pgp_rsa.pub.asc")).unwrap();
    both.extend(std::fs::read(key_path("pgp_ed25519.pub.asc")).unwrap());
    std::fs::write(&ring, both).unwrap();
    let env = Env::from_pairs([
        ("RSOPS_PGP_PUBLIC_KEYS", ring.to_str().unwrap().to_string()),
        (no_gpg.0, no_gpg.1.clone()),
        ("HOME", dir.path().to_str().unwrap().to_string()),
    ]);
    let stanza = PgpKey::with_env(ED_FP, env).unwrap().wrap(&SECRET).unwrap();
    assert_eq!(
        secret.gpg(&["--batch", "-d"], pgp_enc(&stanza).as_bytes()),
        SECRET
    );

    // Legacy $GNUPGHOME/pubring.gpg (binary keyring), found by a subkey's long key id.
    let legacy = TempDir::new().unwrap();
    let exported = secret.gpg(&["--export", RSA_FP], b"");
    std::fs::write(legacy.path().join("pubring.gpg"), exported).unwrap();
    let env = Env::from_pairs([
        ("GNUPGHOME", legacy.path().to_str().unwrap().to_string()),
        (no_gpg.0, no_gpg.1.clone()),
    ]);
    let stanza = PgpKey::with_env(RSA_FP, env)
        .unwrap()
        .wrap(&SECRET)
        .unwrap();
    assert_eq!(
        secret.gpg(&["--batch", "-d"], pgp_enc(&stanza).as_bytes()),
        SECRET
    );
}

#[test]
fn pgp_wrap_falls_back_to_gpg_encrypt() {
    // A gpg that refuses --export forces the `gpg --encrypt` path, with sops's arguments.
    let public = GnupgHome::with_keys(&["pgp_rsa.pub.asc"]);
    let secret = GnupgHome::with_keys(&["pgp_rsa.sec.asc"]);
    let dir = TempDir::new().unwrap();
    let wrapper = dir.path().join("gpg-no-export");
    let log = dir.path().join("args.log");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nfor a; do [ \"$a\" = --export ] && exit 2; done\nexec gpg \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    let env = public.env(&[("SOPS_GPG_EXEC", format!("{}", wrapper.display()))]);
    // sh runs the wrapper; SOPS_GPG_EXEC must be an executable, so make it one.
    run("chmod", &["+x", wrapper.to_str().unwrap()], &[], b"");
    let stanza = PgpKey::with_env(RSA_FP, env)
        .unwrap()
        .wrap(&SECRET)
        .unwrap();
    let enc = pgp_enc(&stanza);
    assert!(enc.starts_with("-----BEGIN PGP MESSAGE-----"));
    assert!(!enc.ends_with('\n'));
    assert_eq!(secret.gpg(&["--batch", "-d"], enc.as_bytes()), SECRET);
    let args = std::fs::read_to_string(&log).unwrap();
    let expected = format!(
        "--homedir {} --no-default-recipient --yes --encrypt -a -r {RSA_FP} --trusted-key 13DC73C8F49DE51A --no-encrypt-to",
        public.path()
    );
    assert!(args.lines().any(|l| l == expected), "{args}");
}

#[test]
fn pgp_wrap_without_any_cert_explains() {
    let empty = GnupgHome::with_keys(&[]);
    let err = PgpKey::with_env(RSA_FP, empty.env(&[]))
        .unwrap()
        .wrap(&SECRET)
        .unwrap_err()
        .to_string();
    assert!(err.contains(RSA_FP), "{err}");
    assert!(err.contains("Import the public key"), "{err}");
}

#[test]
fn pgp_gpg_output_unwraps_in_process_and_via_gpg() {
    let public = GnupgHome::with_keys(&["pgp_rsa.pub.asc", "pgp_ed25519.pub.asc"]);
    let secret = GnupgHome::with_keys(&["pgp_rsa.sec.asc", "pgp_ed25519.sec.asc"]);
    let empty = GnupgHome::with_keys(&[]);
    for (fp, sec) in [(RSA_FP, "pgp_rsa.sec.asc"), (ED_FP, "pgp_ed25519.sec.asc")] {
        let enc = public.gpg(
            &[
                "--batch",
                "--trust-model",
                "always",
                "--encrypt",
                "-a",
                "-r",
                fp,
            ],
            &SECRET,
        );
        let stanza = pgp_stanza(fp, enc);

        // In-process: secret keyring file, no usable gpg at all.
        let env = empty.env(&[
            ("RSOPS_PGP_SECRET_KEYS", key_str(sec)),
            ("SOPS_GPG_EXEC", "/nonexistent/gpg".to_string()),
        ]);
        assert_eq!(
            unwrap_ok(&PgpDecryptor::with_env(env), &stanza),
            SECRET,
            "{fp} in-process"
        );

        // Fallback: the secret key lives only in GnuPG.
        assert_eq!(
            unwrap_ok(&PgpDecryptor::with_env(secret.env(&[])), &stanza),
            SECRET,
            "{fp} gpg"
        );
    }
}

#[test]
fn pgp_our_wrap_unwraps_in_process() {
    let dir = TempDir::new().unwrap();
    let no_gpg = [
        ("SOPS_GPG_EXEC", "/nonexistent/gpg".to_string()),
        ("GNUPGHOME", dir.path().to_str().unwrap().to_string()),
    ];
    for (fp, public, sec) in [
        (RSA_FP, "pgp_rsa.pub.asc", "pgp_rsa.sec.asc"),
        (ED_FP, "pgp_ed25519.pub.asc", "pgp_ed25519.sec.asc"),
    ] {
        let mut enc_env: Vec<(&str, String)> = no_gpg.to_vec();
        enc_env.push(("RSOPS_PGP_PUBLIC_KEYS", key_str(public)));
        let stanza = PgpKey::with_env(fp, Env::from_pairs(enc_env))
            .unwrap()
            .wrap(&SECRET)
            .unwrap();
        let mut dec_env: Vec<(&str, String)> = no_gpg.to_vec();
        dec_env.push(("RSOPS_PGP_SECRET_KEYS", key_str(sec)));
        let d = PgpDecryptor::with_env(Env::from_pairs(dec_env));
        assert_eq!(unwrap_ok(&d, &stanza), SECRET, "{fp}");
    }
}

#[test]
fn pgp_unwrap_failure_names_fingerprint_and_hint() {
    let empty = GnupgHome::with_keys(&[]);
    let public = GnupgHome::with_keys(&["pgp_rsa.pub.asc"]);
    let stanza = PgpKey::with_env(RSA_FP, public.env(&[]))
        .unwrap()
        .wrap(&SECRET)
        .unwrap();
    let err = PgpDecryptor::with_env(empty.env(&[]))
        .unwrap(&stanza)
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(err.contains(RSA_FP), "{err}");
    assert!(err.contains("No secret key"), "{err}");
    assert!(err.contains("exit status: 2"), "{err}");
    assert!(err.contains("Import the secret key"), "{err}");
}

/// The `enc: |-` blocks of a sops YAML file's `pgp` stanzas, with their `fp`.
fn yaml_pgp_stanzas(yaml: &str) -> Vec<KeyStanza> {
    let mut stanzas = Vec::new();
    let mut lines = yaml.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() != "enc: |-" {
            continue;
        }
        let mut block = Vec::new();
        while let Some(l) = lines.peek() {
            if !l.is_empty() && !l.starts_with("            ") {
                break;
            }
            block.push(l.trim_start().to_string());
            lines.next();
        }
        let fp = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("fp: "))
            .unwrap()
            .to_string();
        stanzas.push(pgp_stanza(&fp, block.join("\n").into_bytes()));
    }
    stanzas
}

#[test]
fn pgp_legacy_go_messages_decrypt_via_gpg() {
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys/sops_example.yaml"),
    )
    .unwrap();
    let stanzas = yaml_pgp_stanzas(&yaml);
    assert_eq!(stanzas.len(), 2);
    let home = GnupgHome::with_keys(&["sops_functional_tests_key.asc"]);
    let d = PgpDecryptor::with_env(home.env(&[(
        "RSOPS_PGP_SECRET_KEYS",
        key_str("sops_functional_tests_key.asc"),
    )]));
    // sequoia rejects these messages, so without gpg they cannot be read in-process…
    let no_gpg = PgpDecryptor::with_env(home.env(&[
        (
            "RSOPS_PGP_SECRET_KEYS",
            key_str("sops_functional_tests_key.asc"),
        ),
        ("SOPS_GPG_EXEC", "/nonexistent/gpg".to_string()),
    ]));
    let err = no_gpg.unwrap(&stanzas[0]).unwrap().unwrap_err().to_string();
    assert!(err.contains("in-process decryption"), "{err}");
    // …and gpg reads them.
    for stanza in &stanzas {
        let key = unwrap_ok(&d, stanza);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "8c68886c50b5b72965a3cb99c5172e1d74a8aca27b39ee880b535d6907e59f68"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The real sops: its stanzas unwrap with ours, and ours replace its stanzas.

fn sops_bin() -> String {
    std::env::var("SOPS_BIN")
        .unwrap_or_else(|_| format!("{}/.tools/bin/sops", env!("CARGO_MANIFEST_DIR")))
}

fn sops(args: &[&str], envs: &[(&str, &str)]) -> Vec<u8> {
    let mut all: Vec<(&str, &str)> = vec![("SOPS_DISABLE_VERSION_CHECK", "1")];
    all.extend_from_slice(envs);
    run(&sops_bin(), args, &all, b"")
}

#[test]
fn real_sops_stanzas_round_trip_with_ours() {
    let public = GnupgHome::with_keys(&["pgp_rsa.pub.asc"]);
    let secret = GnupgHome::with_keys(&["pgp_rsa.sec.asc"]);
    let home = TempDir::new().unwrap();
    let home_s = home.path().to_str().unwrap();
    let plain_path = home.path().join("plain.json");
    std::fs::write(&plain_path, "{\"a\": \"b\", \"n\": 1}\n").unwrap();
    let recipient = age_public("age1.txt");
    let isolated = [("HOME", home_s), ("XDG_CONFIG_HOME", home_s)];

    let mut envs = isolated.to_vec();
    envs.push(("GNUPGHOME", public.path()));
    let encrypted = sops(
        &[
            "encrypt",
            "--age",
            &recipient,
            "--pgp",
            RSA_FP,
            plain_path.to_str().unwrap(),
        ],
        &envs,
    );
    let mut doc: serde_json::Value = serde_json::from_slice(&encrypted).unwrap();

    // sops → ours: both stanzas give the same data key.
    let sops_age = doc["sops"]["age"][0]["enc"].as_str().unwrap().to_string();
    let sops_pgp = doc["sops"]["pgp"][0]["enc"].as_str().unwrap().to_string();
    let ids = AgeIdentities::with_env(Env::from_pairs([(
        "SOPS_AGE_KEY_FILE",
        key_str("age1.txt"),
    )]));
    let data_key = unwrap_ok(&ids, &age_stanza(&recipient, sops_age.into_bytes()));
    let via_pgp = unwrap_ok(
        &PgpDecryptor::with_env(secret.env(&[])),
        &pgp_stanza(RSA_FP, sops_pgp.into_bytes()),
    );
    assert_eq!(data_key.len(), 32);
    assert_eq!(data_key, via_pgp);

    // ours → sops: replace both stanzas with our wraps of that data key.
    let age_ours = AgeRecipient::parse(&recipient)
        .unwrap()
        .wrap(&data_key)
        .unwrap();
    let pgp_ours = PgpKey::with_env(RSA_FP, public.env(&[]))
        .unwrap()
        .wrap(&data_key)
        .unwrap();
    doc["sops"]["age"][0]["enc"] = age_enc(&age_ours).into();
    doc["sops"]["pgp"][0]["enc"] = pgp_enc(&pgp_ours).into();
    let ours_path = home.path().join("ours.json");
    std::fs::write(&ours_path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let ours = ours_path.to_str().unwrap();

    let key_file = key_str("age1.txt");
    let mut age_only = isolated.to_vec();
    age_only.push(("SOPS_AGE_KEY_FILE", &key_file));
    age_only.push(("GNUPGHOME", public.path()));
    let out = sops(&["decrypt", ours], &age_only);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out).unwrap()["a"],
        "b"
    );

    // No age identity anywhere: sops must use our PGP stanza through gpg.
    let mut pgp_only = isolated.to_vec();
    pgp_only.push(("GNUPGHOME", secret.path()));
    let out = sops(&["decrypt", ours], &pgp_only);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out).unwrap()["a"],
        "b"
    );
}

// ---------------------------------------------------------------------------------------------
// An age identity file that is itself passphrase-encrypted: the passphrase is asked for on the
// terminal. `script` gives the test a pseudo-terminal; this same test, re-run inside it with
// RSOPS_TTY_CHILD set, does the unwrap.

const TTY_CHILD: &str = "RSOPS_TTY_CHILD";
const PASSPHRASE: &str = "correct horse battery staple";

fn encrypted_identity_file(dir: &Path) -> PathBuf {
    use age::secrecy::SecretString;
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(PASSPHRASE.to_string()));
    // A low work factor keeps the debug-build test fast.
    recipient.set_work_factor(10);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut out = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
    let mut w = encryptor.wrap_output(armor).unwrap();
    w.write_all(
        std::fs::read_to_string(key_path("age1.txt"))
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    w.finish().unwrap().finish().unwrap();
    let path = dir.join("keys.age");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn age_encrypted_identity_file_asks_passphrase_on_terminal() {
    if let Ok(dir) = std::env::var(TTY_CHILD) {
        let dir = Path::new(&dir);
        let enc = std::fs::read(dir.join("stanza.age")).unwrap();
        let ids = AgeIdentities::with_env(Env::from_pairs([(
            "SOPS_AGE_KEY_FILE",
            dir.join("keys.age").to_str().unwrap(),
        )]));
        let secret = unwrap_ok(&ids, &age_stanza(&age_public("age1.txt"), enc));
        println!("SECRET:{}", String::from_utf8(secret).unwrap());
        return;
    }
    let dir = TempDir::new().unwrap();
    encrypted_identity_file(dir.path());
    let stanza = AgeRecipient::parse(&age_public("age1.txt"))
        .unwrap()
        .wrap(&SECRET)
        .unwrap();
    std::fs::write(dir.path().join("stanza.age"), age_enc(&stanza)).unwrap();

    // Without a terminal the error is clean and says why.
    let ids = AgeIdentities::with_env(Env::from_pairs([(
        "SOPS_AGE_KEY_FILE",
        dir.path().join("keys.age").to_str().unwrap(),
    )]));
    if std::fs::File::open("/dev/tty").is_err() {
        let err = ids.unwrap(&stanza).unwrap().unwrap_err().to_string();
        assert!(err.contains("no terminal"), "{err}");
    }

    let me = std::env::current_exe().unwrap();
    let inner = format!(
        "'{}' --exact age_encrypted_identity_file_asks_passphrase_on_terminal --nocapture --test-threads 1",
        me.display()
    );
    // `timeout` keeps a child that never prompts from hanging the suite.
    let mut child = Command::new("timeout")
        .args(["120", "script", "-qec", &inner, "/dev/null"])
        .env(TTY_CHILD, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) is needed for the terminal test");
    // Answer once the prompt shows (echo is already off by then).
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        let mut answered = false;
        loop {
            let n = std::io::Read::read(&mut stdout, &mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if !answered && String::from_utf8_lossy(&seen).contains("Enter passphrase") {
                writeln!(stdin, "{PASSPHRASE}").unwrap();
                answered = true;
            }
        }
        seen
    });
    let seen = reader.join().unwrap();
    child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    let expected = format!("SECRET:{}", String::from_utf8(SECRET.to_vec()).unwrap());
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("Enter passphrase for identity"), "{text}");
    assert!(!text.contains(PASSPHRASE), "passphrase was echoed: {text}");
}

#[test]
fn pgp_subkey_fingerprint_and_long_key_id_find_the_cert() {
    let secret = GnupgHome::with_keys(&["pgp_rsa.sec.asc"]);
    let env = Env::from_pairs([
        ("RSOPS_PGP_PUBLIC_KEYS", key_str("pgp_rsa.pub.asc")),
        ("SOPS_GPG_EXEC", "/nonexistent/gpg".to_string()),
    ]);
    for given in [
        "3E3C4653B55AB37D18A2D32B11CF3B5CB58CABFE", // encryption subkey
        "3e3c4653b55ab37d18a2d32b11cf3b5cb58cabfe!", // exactly that subkey, lower case
        "13DC73C8F49DE51A",                         // primary long key id
    ] {
        let stanza = PgpKey::with_env(given, env.clone())
            .unwrap()
            .wrap(&SECRET)
            .unwrap();
        let KeyStanza::Pgp(s) = &stanza else { panic!() };
        assert_eq!(s.fp, given, "the fingerprint is stored as given");
        assert_eq!(
            secret.gpg(&["--batch", "-d"], s.enc.as_bytes()),
            SECRET,
            "{given}"
        );
    }
}

/// `gpg ARGS` over a file of `size` zero bytes, armored output read back (files, not pipes:
/// megabytes in, kilobytes out).
fn gpg_over_zeros(home: &GnupgHome, args: &[&str], size: usize) -> Vec<u8> {
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("zeros");
    let output = dir.path().join("out.asc");
    std::fs::write(&input, vec![0u8; size]).unwrap();
    let mut all = vec!["--batch", "--yes", "-a", "-o", output.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push(input.to_str().unwrap());
    home.gpg(&all, b"");
    std::fs::read(output).unwrap()
}

/// Both decrypt paths, in-process (secret keyring file, no gpg) and gpg, must refuse `stanza`
/// with an error containing `says`.
fn assert_both_paths_refuse(stanza: &KeyStanza, says: &str) {
    let secret = GnupgHome::with_keys(&["pgp_rsa.sec.asc"]);
    let empty = GnupgHome::with_keys(&[]);
    let in_process = empty.env(&[
        ("RSOPS_PGP_SECRET_KEYS", key_str("pgp_rsa.sec.asc")),
        ("SOPS_GPG_EXEC", "/nonexistent/gpg".to_string()),
    ]);
    for (path, env) in [("in-process", in_process), ("gpg", secret.env(&[]))] {
        match PgpDecryptor::with_env(env).unwrap(stanza) {
            Some(Err(e)) => assert!(e.to_string().contains(says), "{path}: {e}"),
            Some(Ok(key)) => panic!("{path}: opened {} bytes as a data key", key.len()),
            None => panic!("stanza not claimed"),
        }
    }
}

/// A message that was never encrypted (`gpg --store`) holds no data key, whatever it contains.
#[test]
fn pgp_literal_only_message_is_refused() {
    let home = GnupgHome::with_keys(&[]);
    let enc = gpg_over_zeros(&home, &["--store"], 32);
    assert_both_paths_refuse(&pgp_stanza(RSA_FP, enc), "not encrypted");
}

/// 64 MiB of zeros compress to ~64 KiB: reading stops a few KiB in, on both paths.
#[test]
fn pgp_decompression_bomb_stops_early() {
    let public = GnupgHome::with_keys(&["pgp_rsa.pub.asc"]);
    let bomb = gpg_over_zeros(
        &public,
        &[
            "--trust-model",
            "always",
            "-z",
            "9",
            "-r",
            RSA_FP,
            "--encrypt",
        ],
        64 << 20,
    );
    assert!(bomb.len() < 1 << 20, "the bomb is {} bytes", bomb.len());
    assert_both_paths_refuse(&pgp_stanza(RSA_FP, bomb), "not a sops data key");
    let literal_bomb = gpg_over_zeros(&public, &["-z", "9", "--store"], 64 << 20);
    assert_both_paths_refuse(&pgp_stanza(RSA_FP, literal_bomb), "not");
}
