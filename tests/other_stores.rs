//! The JSON, dotenv, INI and binary stores against the real sops 3.11.0: for every input in
//! `testdata/stores/ok`, sops's encrypt-then-decrypt output must equal our plaintext round trip,
//! and re-emitting the files sops encrypted must give them back byte for byte. Inputs in
//! `testdata/stores/bad` must be refused by both.

mod common;

use rsops::stores::{store_for, Format, Store, StoreOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PGP_FINGERPRINT: &str = "1BA4BB945673E83C054AF26813DC73C8F49DE51A";

struct Peer {
    sops: PathBuf,
    gnupg_home: PathBuf,
    age_key_file: PathBuf,
    age_recipients: String,
    work: tempfile::TempDir,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sops_path() -> PathBuf {
    let path = std::env::var_os("SOPS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools/bin/sops"));
    assert!(
        path.exists(),
        "sops 3.11.0 not found at {}: run scripts/install-test-tools.sh (or set SOPS_BIN)",
        path.display()
    );
    path
}

impl Peer {
    fn new() -> Peer {
        let sops = sops_path();
        let work = tempfile::tempdir().unwrap();
        let gnupg_home = work.path().join("gnupg");
        std::fs::create_dir(&gnupg_home).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&gnupg_home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let import = Command::new("gpg")
            .env("GNUPGHOME", &gnupg_home)
            .args(["--batch", "--quiet", "--import"])
            .arg(repo().join("keys/pgp_rsa.sec.asc"))
            .output()
            .expect("gpg is needed: run scripts/install-test-tools.sh");
        assert!(import.status.success(), "gpg --import failed: {import:?}");
        // Two age identities in one file, so files for both recipients (or for two key groups)
        // decrypt.
        let mut identities = String::new();
        let mut recipients = Vec::new();
        for name in ["age1.txt", "age2.txt"] {
            let keys = std::fs::read_to_string(repo().join("keys").join(name)).unwrap();
            recipients.push(
                keys.lines()
                    .find_map(|l| l.strip_prefix("# public key: "))
                    .expect("an age key file has a public key line")
                    .to_string(),
            );
            identities.push_str(&keys);
        }
        let age_key_file = work.path().join("age-keys.txt");
        std::fs::write(&age_key_file, identities).unwrap();
        Peer {
            sops,
            gnupg_home,
            age_key_file,
            age_recipients: recipients.join(","),
            work,
        }
    }

    fn run(&self, args: &[&str], file: &Path) -> Output {
        Command::new(&self.sops)
            .current_dir(self.work.path())
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("GNUPGHOME", &self.gnupg_home)
            .env("SOPS_AGE_KEY_FILE", &self.age_key_file)
            .env_remove("SOPS_AGE_KEY")
            .args(args)
            .arg(file)
            .output()
            .unwrap()
    }

    /// Encrypts `input` for two age keys and a PGP key (or, with `from_config`, for the keys of
    /// the `.sops.yaml` in the work dir); `name`'s extension picks the format.
    fn encrypt(&self, name: &str, input: &[u8], from_config: bool) -> Output {
        let path = self.work.path().join(name);
        std::fs::write(&path, input).unwrap();
        let args: &[&str] = if from_config {
            &["encrypt"]
        } else {
            &[
                "encrypt",
                "--age",
                &self.age_recipients,
                "--pgp",
                PGP_FINGERPRINT,
            ]
        };
        self.run(args, &path)
    }

    fn decrypt(&self, name: &str, encrypted: &[u8]) -> Output {
        let path = self.work.path().join(name);
        std::fs::write(&path, encrypted).unwrap();
        self.run(&["decrypt"], &path)
    }
}

fn inputs(kind: &str) -> Vec<PathBuf> {
    let dir = repo().join("testdata/stores").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
}

fn extension(path: &Path) -> String {
    path.extension().unwrap().to_string_lossy().into_owned()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn plain_round_trip(store: &dyn Store, input: &[u8]) -> Result<Vec<u8>, String> {
    let doc = store.load_plain(input).map_err(|e| e.to_string())?;
    store.emit_plain(&doc).map_err(|e| e.to_string())
}

/// sops 3.11 writes the `[sops]` section in Go map order (random); ours is sorted. Sorting the
/// section's lines (one `key = value` each) makes the two comparable.
fn sort_ini_sops_section(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(text.to_vec()).unwrap();
    let start = text.rfind("[sops]\n").expect("a [sops] section") + "[sops]\n".len();
    let mut lines: Vec<&str> = text[start..].lines().collect();
    lines.sort();
    let mut out = text[..start].to_string();
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// `random_ini_order`: the file was written by sops 3.11, whose `[sops]` key order is random.
fn check_encrypted_round_trip(
    store: &dyn Store,
    random_ini_order: bool,
    encrypted: &[u8],
    name: &str,
) {
    let (doc, metadata) = store
        .load_encrypted(encrypted)
        .unwrap_or_else(|e| panic!("{name}: load_encrypted failed: {e}"));
    let metadata = metadata.unwrap_or_else(|| panic!("{name}: no metadata found"));
    let again = store
        .emit_encrypted(doc, &metadata)
        .unwrap_or_else(|e| panic!("{name}: emit_encrypted failed: {e}"));
    let expected = if random_ini_order {
        sort_ini_sops_section(encrypted)
    } else {
        encrypted.to_vec()
    };
    assert!(
        again == expected,
        "{name}: re-emitted encrypted file differs\n--- sops ---\n{}\n--- ours ---\n{}",
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(&again)
    );
}

/// sops encrypt, then decrypt: the output must be our plaintext round trip, and the encrypted
/// file must survive our load/emit unchanged.
fn check_against_sops(peer: &Peer, path: &Path, options: StoreOptions, from_config: bool) {
    let name = file_name(path);
    let ext = extension(path);
    let format = Format::from_path(path);
    let store = store_for(format, options);
    let input = std::fs::read(path).unwrap();

    let encrypted = peer.encrypt(&format!("in.{ext}"), &input, from_config);
    assert!(
        encrypted.status.success(),
        "{name}: sops encrypt failed: {}",
        String::from_utf8_lossy(&encrypted.stderr)
    );
    let decrypted = peer.decrypt(&format!("enc.{ext}"), &encrypted.stdout);
    assert!(
        decrypted.status.success(),
        "{name}: sops decrypt failed: {}",
        String::from_utf8_lossy(&decrypted.stderr)
    );
    let ours = plain_round_trip(store.as_ref(), &input)
        .unwrap_or_else(|e| panic!("{name}: our plaintext round trip failed: {e}"));
    assert!(
        ours == decrypted.stdout,
        "{name}: plaintext output differs\n--- sops ---\n{}\n--- ours ---\n{}",
        String::from_utf8_lossy(&decrypted.stdout),
        String::from_utf8_lossy(&ours)
    );
    check_encrypted_round_trip(
        store.as_ref(),
        format == Format::Ini,
        &encrypted.stdout,
        &name,
    );
}

#[test]
fn stores_match_sops_on_valid_inputs() {
    let peer = Peer::new();
    let files = inputs("ok");
    for path in &files {
        check_against_sops(&peer, path, StoreOptions::default(), false);
    }
    assert!(files.len() >= 20, "only {} inputs checked", files.len());
}

#[test]
fn stores_refuse_what_sops_refuses() {
    let peer = Peer::new();
    for path in inputs("bad") {
        let name = file_name(&path);
        let input = std::fs::read(&path).unwrap();
        let encrypted = peer.encrypt(&format!("in.{}", extension(&path)), &input, false);
        assert!(!encrypted.status.success(), "{name}: sops accepted it");
        let store = store_for(Format::from_path(&path), StoreOptions::default());
        assert!(
            plain_round_trip(store.as_ref(), &input).is_err(),
            "{name}: we accepted what sops refuses"
        );
    }
}

#[test]
fn json_indentation_settings_match_sops() {
    let peer = Peer::new();
    let config = format!(
        "creation_rules:\n  - age: {}\n    pgp: {PGP_FINGERPRINT}\n\
         stores:\n  json:\n    indent: 2\n  json_binary:\n    indent: 0\n",
        peer.age_recipients
    );
    std::fs::write(peer.work.path().join(".sops.yaml"), config).unwrap();
    let options = StoreOptions {
        json_indent: Some(2),
        json_binary_indent: Some(0),
        ..StoreOptions::default()
    };
    for file in ["duplicates.json", "text.bin", "random.bin"] {
        let path = repo().join("testdata/stores/ok").join(file);
        check_against_sops(&peer, &path, options, true);
    }
}

/// Several key groups, a Shamir threshold and `mac_only_encrypted` put lists of maps, a number
/// and a bool into the metadata, which dotenv and INI flatten.
#[test]
fn key_groups_metadata_round_trips() {
    let peer = Peer::new();
    let recipients: Vec<&str> = peer.age_recipients.split(',').collect();
    let config = [
        "creation_rules:".to_string(),
        "  - shamir_threshold: 2".to_string(),
        "    mac_only_encrypted: true".to_string(),
        "    encrypted_regex: '^(secret|first|s|data|FOO|EQ)'".to_string(),
        "    key_groups:".to_string(),
        format!("      - age: [{}]", recipients[0]),
        format!("        pgp: [{PGP_FINGERPRINT}]"),
        format!("      - age: [{}]", recipients[1]),
        String::new(),
    ]
    .join("\n");
    std::fs::write(peer.work.path().join(".sops.yaml"), config).unwrap();
    for file in [
        "duplicates.json",
        "basic.env",
        "basic.ini",
        "random.bin",
        "empty.env",
    ] {
        let path = repo().join("testdata/stores/ok").join(file);
        check_against_sops(&peer, &path, StoreOptions::default(), true);
    }
}

/// Files written by sops 3.13 (sorted metadata keys) come back byte for byte; the 3.13.0/3.13.1
/// INI spelling with `"""` blocks reads as the same metadata and is re-written escaped.
#[test]
fn sops_3_13_files_read_back() {
    let vectors = repo().join("testdata/stores/vectors");
    for name in ["format.enc.ini", "format.enc.env", "format.enc.json"] {
        let path = vectors.join(name);
        let format = Format::from_path(&path);
        let store = store_for(format, StoreOptions::default());
        let bytes = std::fs::read(&path).unwrap();
        check_encrypted_round_trip(store.as_ref(), false, &bytes, name);
    }
    let store = store_for(Format::Ini, StoreOptions::default());
    let multi = std::fs::read(vectors.join("format-2.enc.ini")).unwrap();
    let (doc, metadata) = store.load_encrypted(&multi).unwrap();
    let metadata = metadata.unwrap();
    let enc = rsops::stores::flatten::flatten(&rsops::stores::metadata_wire::to_node(&metadata))
        .into_iter()
        .find(|(k, _)| k == "pgp__list_0__map_enc")
        .unwrap()
        .1;
    assert!(
        enc.starts_with("-----BEGIN PGP MESSAGE-----\n\nwcBMAy"),
        "{enc}"
    );
    assert!(enc.ends_with("=j3Rn\n-----END PGP MESSAGE-----"), "{enc}");
    let out = String::from_utf8(store.emit_encrypted(doc, &metadata).unwrap()).unwrap();
    assert!(out.contains("pgp__list_0__map_enc        = -----BEGIN PGP MESSAGE-----\\n\\nwcBMAy"));
}

/// `sops decrypt --output-type X` of a JSON file: the other stores' spelling of non-string
/// values (Go's `ValToString` and `%v`) and their refusals. Integral numbers are avoided: sops
/// 3.11 reads them as floats (`2.0`), rsops as integers.
#[test]
fn cross_format_output_matches_sops() {
    let peer = Peer::new();
    let cases: [(&str, &str); 5] = [
        (r#"{"m": {"k": "v"}}"#, "dotenv"),
        (
            r#"{"a": 1.5, "b": true, "c": null, "d": 1e21, "e": "x\ny", "g": 1e-7, "h": 0.000123}"#,
            "dotenv",
        ),
        (
            r#"{"s": {"a": 1.5, "b": false, "c": "v;x", "n": null, "w": " pad "}, "t": {"l": [1.5, "x", {"k": 2.5}]}}"#,
            "ini",
        ),
        (r#"{"data": "raw bytes\n", "other": 1.5}"#, "binary"),
        (r#"{"not_data": "x"}"#, "binary"),
    ];
    let json = store_for(Format::Json, StoreOptions::default());
    for (input, output_type) in cases {
        let encrypted = peer.encrypt("cross.json", input.as_bytes(), false);
        assert!(encrypted.status.success(), "{input}: sops encrypt failed");
        let path = peer.work.path().join("cross.enc.json");
        std::fs::write(&path, &encrypted.stdout).unwrap();
        let sops = peer.run(&["decrypt", "--output-type", output_type], &path);
        let target = store_for(
            Format::from_name(output_type).unwrap(),
            StoreOptions::default(),
        );
        let doc = json.load_plain(input.as_bytes()).unwrap();
        let ours = target.emit_plain(&doc);
        match ours {
            Ok(bytes) => {
                assert!(sops.status.success(), "{input}: sops failed, we did not");
                assert_eq!(
                    String::from_utf8_lossy(&bytes),
                    String::from_utf8_lossy(&sops.stdout),
                    "{input} as {output_type}"
                );
            }
            Err(e) => assert!(
                !sops.status.success(),
                "{input}: we failed ({e}), sops did not"
            ),
        }
    }
}

/// Fresh random payloads each run (the seed is printed; `RSOPS_TEST_SEED` replays it): arbitrary
/// bytes must survive sops and us unchanged.
#[test]
fn random_binary_payloads_match_sops() {
    use rand::{Rng, RngCore};
    let peer = Peer::new();
    let mut rng = common::seeded_rng("random_binary_payloads_match_sops");
    for _ in 0..3 {
        let mut payload = vec![0u8; rng.gen_range(1..4096)];
        rng.fill_bytes(&mut payload);
        let path = peer.work.path().join("payload.bin");
        std::fs::write(&path, &payload).unwrap();
        check_against_sops(&peer, &path, StoreOptions::default(), false);
    }
}

/// The TOML store (rsops only: sops 3.11 has no TOML store) through the command line, with real
/// age keys: every path that needs no editor, and the cross-format paths the real sops can check.
mod toml_cli {
    use crate::common::{expect_output, rsops, sops, Key, Sandbox};

    /// In the layout rsops writes, so decrypting gives it back byte for byte.
    const APP: &str = r#"# service settings
name = "api"
port = 8443
ratio = 0.25
debug = false
started = 1979-05-27T07:32:00.999Z
day = 1979-05-27
at = 07:32:00
point = { x = 1, y = "two" }
ports = [8001, 8002]

# the database
[database]
# rotate quarterly
password = "s3cr3t"

[[servers]]
name = "alpha"

[[servers]]
name = "beta"
"#;

    fn encrypt(sandbox: &Sandbox, name: &str) -> std::path::PathBuf {
        let path = sandbox.put(name, APP.as_bytes());
        let age = Key::Age1.recipient();
        let out = sandbox.run(&rsops(), &["encrypt", "-i", "--age", &age, name]);
        assert!(out.ok(), "{}", out.summary());
        path
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn encrypt_then_decrypt_gives_the_file_back() {
        let sandbox = Sandbox::new(&[Key::Age1]);
        let path = encrypt(&sandbox, "app.toml");
        let encrypted = std::fs::read_to_string(&path).unwrap();
        for secret in ["s3cr3t", "rotate quarterly", "alpha", "8443", "07:32"] {
            assert!(
                !encrypted.contains(secret),
                "{secret} left in:\n{encrypted}"
            );
        }
        for expected in [
            "\n[sops]\n",
            "\n[[sops.age]]\n",
            "type:int]",
            "type:float]",
            "type:bool]",
            "type:time]",
            "type:localtime]",
            "#ENC[AES256_GCM,",
            "\n[[servers]]\n",
        ] {
            assert!(
                encrypted.contains(expected),
                "no {expected:?} in:\n{encrypted}"
            );
        }
        let out = sandbox.run(&rsops(), &["decrypt", "app.toml"]);
        expect_output(&out, APP.as_bytes()).unwrap();
        let status = sandbox.run(&rsops(), &["filestatus", "app.toml"]);
        expect_output(&status, b"{\"encrypted\":true}\n").unwrap();
        sandbox.put("plain.toml", APP.as_bytes());
        let status = sandbox.run(&rsops(), &["filestatus", "plain.toml"]);
        expect_output(&status, b"{\"encrypted\":false}\n").unwrap();
    }

    #[test]
    fn input_type_names_the_format() {
        let sandbox = Sandbox::new(&[Key::Age1]);
        sandbox.put("settings", APP.as_bytes());
        let age = Key::Age1.recipient();
        let types = ["--input-type", "toml", "--output-type", "toml"];
        let mut args = vec!["encrypt", "--age", &age];
        args.extend(types);
        args.push("settings");
        let out = sandbox.run(&rsops(), &args);
        assert!(out.ok(), "{}", out.summary());
        assert!(text(&out.stdout).contains("\n[sops]\n"));
        sandbox.put("settings.enc", &out.stdout);
        let mut args = vec!["decrypt"];
        args.extend(types);
        args.push("settings.enc");
        expect_output(&sandbox.run(&rsops(), &args), APP.as_bytes()).unwrap();
    }

    #[test]
    fn extract_set_and_unset() {
        let sandbox = Sandbox::new(&[Key::Age1]);
        encrypt(&sandbox, "app.toml");
        let run = |args: &[&str]| sandbox.run(&rsops(), args);
        let extract = |path: &str| run(&["decrypt", "--extract", path, "app.toml"]);
        expect_output(&extract(r#"["database"]["password"]"#), b"s3cr3t").unwrap();
        expect_output(&extract(r#"["port"]"#), b"8443\n").unwrap();
        expect_output(&extract(r#"["point"]"#), b"x = 1\ny = \"two\"\n").unwrap();
        expect_output(&extract(r#"["servers"][1]["name"]"#), b"beta").unwrap();

        let before = std::fs::read_to_string(sandbox.work().join("app.toml")).unwrap();
        let set = run(&["set", "app.toml", r#"["database"]["password"]"#, r#""n3w""#]);
        assert!(set.ok(), "{}", set.summary());
        let after = std::fs::read_to_string(sandbox.work().join("app.toml")).unwrap();
        let changed: Vec<_> = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.split(" = ").next().unwrap_or(a).to_string())
            .collect();
        // `lastmodified` has one-second resolution: a set in the same second as the encrypt
        // leaves it as it was.
        let stamp = |text: &str| {
            text.lines()
                .find(|l| l.starts_with("lastmodified"))
                .map(str::to_string)
        };
        let expected: &[&str] = if stamp(&before) == stamp(&after) {
            &["password", "mac"]
        } else {
            &["password", "lastmodified", "mac"]
        };
        assert_eq!(changed, expected, "{after}");
        let unset = run(&["unset", "app.toml", r#"["port"]"#]);
        assert!(unset.ok(), "{}", unset.summary());
        let expected = APP.replace("s3cr3t", "n3w").replace("port = 8443\n", "");
        expect_output(&run(&["decrypt", "app.toml"]), expected.as_bytes()).unwrap();
    }

    #[test]
    fn updatekeys_adds_a_recipient_from_the_rules() {
        let sandbox = Sandbox::new(&[Key::Age1]);
        encrypt(&sandbox, "app.toml");
        let rules = format!(
            "creation_rules:\n  - path_regex: \\.toml$\n    age: {},{}\n",
            Key::Age1.recipient(),
            Key::Age2.recipient()
        );
        sandbox.put(".sops.yaml", rules.as_bytes());
        let out = sandbox.run(&rsops(), &["updatekeys", "-y", "app.toml"]);
        assert!(out.ok(), "{}", out.summary());
        let other = Sandbox::new(&[Key::Age2]);
        let bytes = std::fs::read(sandbox.work().join("app.toml")).unwrap();
        other.put("app.toml", &bytes);
        expect_output(
            &other.run(&rsops(), &["decrypt", "app.toml"]),
            APP.as_bytes(),
        )
        .unwrap();
    }

    /// Encrypted from TOML into YAML, the file is sops's: the real sops decrypts it to what rsops
    /// does. A local date has no sops type, so sops refuses that one (README says so).
    #[test]
    fn toml_encrypted_as_yaml_decrypts_with_sops() {
        let sandbox = Sandbox::new(&[Key::Age1]);
        let age = Key::Age1.recipient();
        let without_local = APP.replace("day = 1979-05-27\nat = 07:32:00\n", "");
        for (name, input) in [("typed.toml", without_local.as_str()), ("local.toml", APP)] {
            sandbox.put(name, input.as_bytes());
            let out = sandbox.run(
                &rsops(),
                &["encrypt", "--age", &age, "--output-type", "yaml", name],
            );
            assert!(out.ok(), "{}", out.summary());
            let enc = format!("{name}.enc.yaml");
            sandbox.put(&enc, &out.stdout);
            let theirs = sandbox.run(&sops(), &["decrypt", &enc]);
            let ours = sandbox.run(&rsops(), &["decrypt", &enc]);
            assert!(ours.ok(), "{}", ours.summary());
            if name == "typed.toml" {
                expect_output(&theirs, &ours.stdout).unwrap();
                let back = sandbox.run(&rsops(), &["decrypt", "--output-type", "toml", &enc]);
                expect_output(&back, without_local.as_bytes()).unwrap();
            } else {
                assert!(
                    !theirs.ok(),
                    "sops read type:localtime: {}",
                    theirs.summary()
                );
                assert!(
                    text(&theirs.stderr).contains("localtime"),
                    "{}",
                    theirs.summary()
                );
            }
        }
    }

    #[test]
    fn invalid_toml_is_refused_without_quoting_it() {
        let sandbox = Sandbox::new(&[Key::Age1]);
        sandbox.put("bad.toml", b"password = \"hunter2\nx = 1\n");
        let age = Key::Age1.recipient();
        let out = sandbox.run(&rsops(), &["encrypt", "--age", &age, "bad.toml"]);
        crate::common::expect_failure(&out, 2).unwrap();
        assert!(!text(&out.stderr).contains("hunter2"), "{}", out.summary());
    }
}
