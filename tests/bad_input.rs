//! The bad-input matrix: hostile or broken inputs to `rsops`, one row each. Every row must end
//! with a clear error and sops's exit code — never a panic (101), a signal (stack overflow, OOM
//! abort), a hang, or plaintext on stdout. Each run has a wall-clock deadline and an address-space
//! limit (`ulimit -v`), so a hang or unbounded allocation fails the row instead of the machine.
//!
//! The codes are sops's, except where sops itself misbehaves: it hangs on the FIFO row and expands
//! the alias bomb lazily (so never fails on it); see also [`LOAD_ERROR`].

mod common;
use common::harden as support;

use std::path::{Path, PathBuf};
use support::{encrypt_fixture, run_rsops, Limits, Run, PLAINTEXT_MARKERS};

/// What a row feeds to rsops.
enum Input {
    /// File contents, written to `name` in the row's directory.
    File(&'static str, Vec<u8>),
    /// The valid encrypted fixture with the first occurrence of `from` replaced by `to`.
    Tampered(&'static str, String),
    /// Built by a function (directories, FIFOs, unreadable files, huge inputs).
    Special(fn(&Path) -> PathBuf),
    /// The valid encrypted fixture rewritten by a function.
    Rewritten(fn(&str) -> String),
}

struct Row {
    name: &'static str,
    /// The subcommand and flags; the input path is appended.
    args: &'static [&'static str],
    input: Input,
    /// sops's exit code for this failure.
    code: u8,
    /// Words the error must contain, so it is a clear error and not just any failure.
    says: &'static str,
    limits: Limits,
    /// The age identity file offered for decryption.
    key_file: &'static str,
}

/// Exit code when an encrypted file cannot be loaded (syntax, nesting, metadata shape): sops 3.11.0
/// returns that error unwrapped, so the CLI exits 1 (`ops::Error::Load`).
const LOAD_ERROR: u8 = 1;

const DECRYPT: &[&str] = &["decrypt"];
const DECRYPT_YAML: &[&str] = &["decrypt", "--input-type", "yaml", "--output-type", "yaml"];

fn file(name: &'static str, bytes: impl Into<Vec<u8>>) -> Input {
    Input::File(name, bytes.into())
}

fn tamper(from: &'static str, to: impl Into<String>) -> Input {
    Input::Tampered(from, to.into())
}

fn row(
    name: &'static str,
    args: &'static [&'static str],
    input: Input,
    code: u8,
    says: &'static str,
) -> Row {
    Row {
        name,
        args,
        input,
        code,
        says,
        limits: Limits::default(),
        key_file: "keys/age1.txt",
    }
}

fn deep(open: &str, close: &str, depth: usize) -> Vec<u8> {
    let mut s = String::with_capacity((open.len() + close.len()) * depth);
    for _ in 0..depth {
        s.push_str(open);
    }
    for _ in 0..depth {
        s.push_str(close);
    }
    s.into_bytes()
}

/// The fixture with its age stanza repeated `copies` times inside the armored `enc` block.
fn repeat_age_stanza(fixture: &str, copies: usize) -> String {
    use base64::Engine;
    const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
    const END: &str = "-----END AGE ENCRYPTED FILE-----";
    let start = fixture.find(BEGIN).expect("age armor") + BEGIN.len();
    let end = start + fixture[start..].find(END).expect("age armor end");
    let indent = &fixture[fixture[..end].rfind('\n').unwrap() + 1..end];
    let body: String = fixture[start..end].split_whitespace().collect();
    let b64 = base64::engine::general_purpose::STANDARD;
    let binary = b64.decode(body).unwrap();
    let text = String::from_utf8_lossy(&binary).into_owned();
    let (first, last) = (text.find("-> ").unwrap(), text.find("\n---").unwrap() + 1);
    let mut forged = binary[..first].to_vec();
    for _ in 0..copies {
        forged.extend_from_slice(&binary[first..last]);
    }
    forged.extend_from_slice(&binary[last..]);
    let encoded = b64.encode(forged);
    let lines: Vec<String> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| format!("{indent}{}", std::str::from_utf8(c).unwrap()))
        .collect();
    format!(
        "{}\n{}\n{indent}{}",
        &fixture[..start],
        lines.join("\n"),
        &fixture[end..]
    )
}

/// The issue's reproduction: `a:` then 20,000 block sequences opened on one line (39 KB).
fn deep_block_under_key() -> String {
    format!("a:\n  {}v\n", "- ".repeat(20_000))
}

fn directory(dir: &Path) -> PathBuf {
    let path = dir.join("a-directory.yaml");
    std::fs::create_dir(&path).unwrap();
    path
}

/// A FIFO nobody writes to: opening it for reading would block forever.
fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("pipe.yaml");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    path
}

fn unreadable(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    // Traversable, so an unprivileged run gets as far as the file itself.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("secret.yaml");
    std::fs::write(&path, "a: b\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    path
}

/// One line of 1 GiB: a YAML key whose value never ends. Written in chunks, so the test itself
/// stays small; the file is removed with the row's directory.
fn gigabyte_line(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("huge.yaml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(b"key: ").unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..1024 {
        f.write_all(&chunk).unwrap();
    }
    f.flush().unwrap();
    path
}

fn rows() -> Vec<Row> {
    let mut rows = vec![
        // Syntax errors, per format.
        row(
            "yaml unclosed flow",
            DECRYPT,
            file("a.yaml", "a: [1, 2\n"),
            LOAD_ERROR,
            "invalid yaml",
        ),
        row(
            "yaml bad indent",
            ENCRYPT_AGE,
            file("a.yaml", "a:\n  b: 1\n c: 2\n"),
            2,
            "yaml",
        ),
        row(
            "yaml tab indent",
            ENCRYPT_AGE,
            file("a.yaml", "a:\n\tb: 1\n"),
            2,
            "yaml",
        ),
        row(
            "json truncated",
            DECRYPT,
            file("a.json", "{\"a\": [1, "),
            LOAD_ERROR,
            "invalid json",
        ),
        row(
            "json trailing comma",
            ENCRYPT_AGE,
            file("a.json", "{\"a\": 1,}"),
            2,
            "json",
        ),
        row(
            "json top-level array",
            ENCRYPT_AGE,
            file("a.json", "[1, 2]"),
            2,
            "json",
        ),
        row(
            "ini unclosed section",
            ENCRYPT_AGE,
            file("a.ini", "[sec\nk = v\n"),
            2,
            "ini",
        ),
        row(
            "ini no delimiter",
            ENCRYPT_AGE,
            file("a.ini", "[s]\njust words\n"),
            2,
            "ini",
        ),
        row(
            "dotenv no equals",
            ENCRYPT_AGE,
            file("a.env", "JUSTAKEY\n"),
            2,
            "dotenv",
        ),
        row(
            "dotenv nested on output",
            &[
                "encrypt",
                "--age",
                support::AGE1_RECIPIENT,
                "--input-type",
                "yaml",
                "--output-type",
                "dotenv",
            ],
            file("a.yaml", "a:\n  b: c\n"),
            4,
            "dotenv",
        ),
        // Encodings.
        row(
            "yaml invalid utf-8",
            ENCRYPT_AGE,
            file("a.yaml", b"a: \xff\xfe\n".to_vec()),
            2,
            "yaml",
        ),
        // Go's decoder turns invalid UTF-8 in JSON strings into U+FFFD, and so does rsops.
        row(
            "json invalid utf-8 key",
            ENCRYPT_AGE,
            file("a.json", b"{\"\xff\": 1}".to_vec()),
            0,
            "",
        ),
        row(
            "yaml utf-16 bom",
            ENCRYPT_AGE,
            file("a.yaml", b"\xff\xfea\x00:\x00 \x001\x00".to_vec()),
            2,
            "yaml",
        ),
        // Regression (fuzz target `sops_config`): lone CRs as line breaks, with a comment.
        row(
            "yaml with lone CRs",
            ENCRYPT_AGE,
            file("a.yaml", "a: 1\r# c\rb: 2\r"),
            0,
            "",
        ),
        // Depth and size.
        row(
            "yaml flow nesting 100000",
            DECRYPT,
            file("a.yaml", deep("[", "]", 100_000)),
            LOAD_ERROR,
            "nested too deeply",
        ),
        row(
            "yaml block nesting 100000",
            DECRYPT,
            file("a.yaml", "- ".repeat(100_000) + "x\n"),
            LOAD_ERROR,
            "nested too deeply",
        ),
        // Under a key the fast line reader takes it first; it recursed once per level.
        row(
            "yaml block nesting 20000 under a key (decrypt)",
            DECRYPT,
            file("a.yaml", deep_block_under_key()),
            LOAD_ERROR,
            "nested too deeply",
        ),
        row(
            "yaml block nesting 20000 under a key (encrypt)",
            ENCRYPT_AGE,
            file("a.yaml", deep_block_under_key()),
            2,
            "nested too deeply",
        ),
        row(
            "yaml block nesting 20000 under a key (filestatus)",
            &["filestatus"],
            file("a.yaml", deep_block_under_key()),
            1,
            "nested too deeply",
        ),
        // The age crate re-parses its header per byte read: 5,000 stanzas took minutes.
        Row {
            limits: Limits {
                deadline: std::time::Duration::from_secs(10),
                ..Limits::default()
            },
            ..row(
                "age header with 5000 repeated stanzas",
                DECRYPT,
                Input::Rewritten(|fixture| repeat_age_stanza(fixture, 5_000)),
                128,
                "recipient stanzas",
            )
        },
        row(
            "json array nesting 100000",
            DECRYPT,
            file(
                "a.json",
                [b"{\"a\":".to_vec(), deep("[", "]", 100_000), b"}".to_vec()].concat(),
            ),
            LOAD_ERROR,
            "nested too deeply",
        ),
        row(
            "json object nesting 100000",
            DECRYPT,
            file("a.json", deep("{\"a\":", "}", 100_000)),
            LOAD_ERROR,
            "nested too deeply",
        ),
        row(
            "yaml alias bomb",
            DECRYPT,
            file("a.yaml", alias_bomb()),
            LOAD_ERROR,
            "aliases expand",
        ),
        row(
            "duplicate yaml keys",
            ENCRYPT_AGE,
            file("a.yaml", "a: 1\na: 2\n"),
            2,
            "already defined",
        ),
        // Not encrypted, or the metadata has the wrong shape.
        row(
            "empty file",
            DECRYPT,
            file("a.yaml", ""),
            1,
            "sops metadata",
        ),
        row(
            "empty json",
            DECRYPT,
            file("a.json", ""),
            LOAD_ERROR,
            "json",
        ),
        row(
            "no sops key",
            DECRYPT,
            file("a.yaml", "a: b\n"),
            1,
            "sops metadata",
        ),
        row(
            "sops is a number",
            DECRYPT,
            file("a.yaml", "a: b\nsops: 5\n"),
            LOAD_ERROR,
            "metadata",
        ),
        row(
            "sops is a list",
            DECRYPT,
            file("a.yaml", "a: b\nsops: [1, 2]\n"),
            LOAD_ERROR,
            "metadata",
        ),
        row(
            "sops is a string",
            DECRYPT,
            file("a.json", "{\"a\": \"b\", \"sops\": \"x\"}"),
            LOAD_ERROR,
            "metadata",
        ),
        row(
            "sops is empty",
            DECRYPT,
            file("a.yaml", "a: b\nsops: {}\n"),
            LOAD_ERROR,
            "metadata",
        ),
        row(
            "encrypt an encrypted file",
            ENCRYPT_AGE,
            tamper("", ""),
            203,
            "already encrypted",
        ),
        // Damaged values and metadata in an otherwise valid file.
        row(
            "bad base64 in data",
            DECRYPT_YAML,
            tamper(",iv:", "!!,iv:"),
            25,
            "base64",
        ),
        row(
            "bad base64 in iv",
            DECRYPT_YAML,
            tamper("iv:", "iv:*"),
            25,
            "base64",
        ),
        row(
            "wrong iv length",
            DECRYPT_YAML,
            tamper(",iv:", ",iv:AAAA,x:"),
            25,
            "decrypt",
        ),
        row(
            "wrong tag length",
            DECRYPT_YAML,
            tamper(",tag:", ",tag:AAAA,y:"),
            25,
            "decrypt",
        ),
        row(
            "flipped ciphertext",
            DECRYPT_YAML,
            Input::Tampered("data:", String::new()),
            25,
            "authenticate",
        ),
        row(
            "unknown cipher",
            DECRYPT_YAML,
            tamper("ENC[AES256_GCM,", "ENC[AES128_GCM,"),
            25,
            "encrypted value",
        ),
        row(
            "unknown type tag",
            DECRYPT_YAML,
            tamper("type:str]", "type:blob]"),
            25,
            "type",
        ),
        // sops refuses a version blang/semver cannot parse ("No Major.Minor.Patch elements found").
        row(
            "non-semver version",
            DECRYPT_YAML,
            tamper("version: 3.11.0", "version: banana"),
            LOAD_ERROR,
            "semantic version",
        ),
        row(
            "two-part version",
            DECRYPT_YAML,
            tamper("version: 3.11.0", "version: \"3.7\""),
            LOAD_ERROR,
            "semantic version",
        ),
        row(
            "missing version",
            DECRYPT_YAML,
            tamper("    version: 3.11.0\n", ""),
            LOAD_ERROR,
            "version",
        ),
        row(
            "missing lastmodified",
            DECRYPT_YAML,
            tamper("    lastmodified:", "    lastmodifiedx:"),
            LOAD_ERROR,
            "lastmodified",
        ),
        row(
            "mac removed",
            DECRYPT_YAML,
            tamper("    mac: ENC", "    macx: ENC"),
            51,
            "MAC",
        ),
        row(
            "missing created_at",
            DECRYPT,
            file("a.yaml", PGP_WITHOUT_CREATED_AT),
            LOAD_ERROR,
            "created_at",
        ),
        row(
            "key group with zero keys",
            DECRYPT,
            file("a.yaml", EMPTY_KEY_GROUP),
            128,
            "key",
        ),
        row(
            "no key stanza at all",
            DECRYPT,
            file("a.yaml", NO_KEYS),
            LOAD_ERROR,
            "no keys",
        ),
        Row {
            key_file: "keys/age2.txt",
            ..row("wrong age key", DECRYPT_YAML, tamper("", ""), 128, "age")
        },
        row(
            "extract path syntax",
            &[
                "decrypt",
                "--extract",
                "[\"db\"",
                "--input-type",
                "yaml",
                "--output-type",
                "yaml",
            ],
            tamper("", ""),
            91,
            "extract",
        ),
        row(
            "extract missing key",
            &[
                "decrypt",
                "--extract",
                "[\"nope\"]",
                "--input-type",
                "yaml",
                "--output-type",
                "yaml",
            ],
            tamper("", ""),
            1,
            "not found",
        ),
        // Regression (fuzz target `tree_path`): a multi-byte character where the quote belongs.
        row(
            "extract cut inside a character",
            &[
                "decrypt",
                "--extract",
                "[\"db\u{7d1}]",
                "--input-type",
                "yaml",
                "--output-type",
                "yaml",
            ],
            tamper("", ""),
            91,
            "closing quote",
        ),
        // Files that are not regular, readable files.
        row(
            "nonexistent file",
            DECRYPT,
            Input::Special(|d| d.join("missing.yaml")),
            100,
            "non-existent",
        ),
        row(
            "a directory",
            DECRYPT,
            Input::Special(directory),
            2,
            "directory",
        ),
        row(
            "a fifo without writer",
            DECRYPT,
            Input::Special(fifo),
            1,
            "sops metadata",
        ),
        Row {
            limits: Limits {
                unprivileged: true,
                ..Limits::default()
            },
            ..row(
                "no read permission",
                DECRYPT,
                Input::Special(unreadable),
                2,
                "ermission denied",
            )
        },
    ];
    let mut huge = row(
        "a 1 GiB line",
        DECRYPT,
        Input::Special(gigabyte_line),
        1,
        "sops metadata",
    );
    huge.limits = Limits::huge();
    rows.push(huge);
    rows
}

const ENCRYPT_AGE: &[&str] = &["encrypt", "--age", support::AGE1_RECIPIENT];

fn alias_bomb() -> Vec<u8> {
    let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..30 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    s.into_bytes()
}

const PGP_WITHOUT_CREATED_AT: &str = "a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]
sops:
    pgp:
        - fp: 1BA4BB945673E83C054AF26813DC73C8F49DE51A
          enc: x
    lastmodified: \"2024-01-01T00:00:00Z\"
    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]
    version: 3.11.0
";

const EMPTY_KEY_GROUP: &str = "a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]
sops:
    key_groups:
        - {}
    lastmodified: \"2024-01-01T00:00:00Z\"
    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]
    version: 3.11.0
";

const NO_KEYS: &str = "a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]
sops:
    lastmodified: \"2024-01-01T00:00:00Z\"
    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]
    version: 3.11.0
";

fn materialize(row: &Row, dir: &Path, fixture: &str) -> PathBuf {
    match &row.input {
        Input::File(name, bytes) => {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        }
        Input::Tampered(from, to) => {
            let text = if from.is_empty() {
                fixture.to_string()
            } else if *from == "data:" {
                flip_first_ciphertext(fixture)
            } else {
                assert!(
                    fixture.contains(from),
                    "{}: `{from}` not in fixture",
                    row.name
                );
                fixture.replacen(from, to, 1)
            };
            let path = dir.join("tampered.yaml");
            std::fs::write(&path, text).unwrap();
            path
        }
        Input::Special(make) => make(dir),
        Input::Rewritten(rewrite) => {
            let path = dir.join("rewritten.yaml");
            std::fs::write(&path, rewrite(fixture)).unwrap();
            path
        }
    }
}

/// Changes one base64 character of the first value's ciphertext (keeping it valid base64).
fn flip_first_ciphertext(fixture: &str) -> String {
    let at = fixture.find("data:").unwrap() + 5;
    let mut bytes = fixture.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// sops's per-key report when no key opens the data key; rsops prints it in sops's layout.
const KEY_RECOVERY_REPORT: &str = "Failed to get the data key required to decrypt the SOPS file.";

fn check(row: &Row, run: &Run) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    if run.timed_out {
        return Err(format!("hung (killed after {:?})", row.limits.deadline));
    }
    let Some(code) = run.code else {
        return Err(format!(
            "killed by a signal (stack overflow, OOM abort?); stderr: {stderr}"
        ));
    };
    if code == 101 || stderr.contains("panicked") {
        return Err(format!("panicked: {stderr}"));
    }
    if code != i32::from(row.code) {
        return Err(format!(
            "exit {code}, expected {}; stderr: {stderr}",
            row.code
        ));
    }
    if code != 0 {
        if !run.stdout.is_empty() {
            return Err(format!("failed but wrote to stdout: {stdout}"));
        }
        if !stderr.to_lowercase().contains(&row.says.to_lowercase()) {
            return Err(format!("error does not say `{}`: {stderr}", row.says));
        }
        // The first line may be sops's own words (scripts grep them): rsops's `error:` or
        // `hint:` follows, unless sops's line already says it all.
        let reported = stderr.starts_with("error: ")
            || stderr
                .lines()
                .any(|l| l.starts_with("error: ") || l.starts_with("hint: "))
            || stderr.trim_end().lines().count() == 1
            || stderr.starts_with(KEY_RECOVERY_REPORT);
        if !reported {
            return Err(format!("not an rsops error message: {stderr}"));
        }
    }
    for marker in PLAINTEXT_MARKERS {
        if stderr.contains(marker) || (code != 0 && stdout.contains(marker)) {
            return Err(format!("plaintext `{marker}` leaked: {stderr}"));
        }
    }
    Ok(())
}

#[test]
fn bad_input_matrix() {
    let fixture = encrypt_fixture();
    let rows = rows();
    let mut failures = Vec::new();
    for row in &rows {
        let dir = tempfile::tempdir().unwrap();
        let path = materialize(row, dir.path(), &fixture);
        let mut args: Vec<String> = row.args.iter().map(|s| s.to_string()).collect();
        args.push(path.display().to_string());
        let key_file = support::repo().join(row.key_file);
        let run = run_rsops(
            &args,
            &[("SOPS_AGE_KEY_FILE", key_file.as_os_str())],
            &row.limits,
        );
        if let Err(why) = check(row, &run) {
            failures.push(format!("{}: {why}", row.name));
        }
        restore_permissions(dir.path());
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// So the temp dir can be removed after the no-permission row.
fn restore_permissions(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o700));
        }
    }
}

/// The other side of the nesting limit: a document just inside it encrypts and decrypts (so no
/// recursive step downstream of the parser — walk, MAC, emit, drop — overflows the stack).
#[test]
fn deep_but_legal_json_round_trips() {
    let depth = rsops::stores::MAX_NESTING - 2;
    let plain = format!(
        "{}\"hunter2-PLAINTEXT\"{}",
        "{\"a\": ".repeat(depth),
        "}".repeat(depth)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deep.json");
    std::fs::write(&file, &plain).unwrap();
    let path = file.to_str().unwrap();
    let encrypted = support::rsops_ok(&["encrypt", "--age", support::AGE1_RECIPIENT, path], &[]);
    std::fs::write(&file, &encrypted).unwrap();
    let decrypted = support::rsops_ok(
        &["decrypt", path],
        &[("SOPS_AGE_KEY_FILE", support::age1_key_file().as_os_str())],
    );
    let text = String::from_utf8(decrypted).unwrap();
    assert!(text.contains("hunter2-PLAINTEXT"));
    assert_eq!(text.matches("\"a\"").count(), depth);
}

fn sops_bin() -> PathBuf {
    std::env::var_os("SOPS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::repo().join(".tools/bin/sops"))
}

/// `.sops.yaml` `stores.yaml.indent` outside what yaml.v3 accepts (found fuzzing `sops_config`):
/// 0 means sops's default 4, values outside 2..=9 become 2, and an absurd number must neither
/// abort rsops nor change the output. The document also has multi-line strings as list items,
/// whose indentation differed from sops (found triaging a `store_yaml` finding). Compared with
/// the real sops, byte for byte.
#[test]
fn odd_yaml_indents_match_sops() {
    let sops = sops_bin();
    assert!(sops.exists(), "sops not found at {}", sops.display());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.yaml");
    let plain = format!(
        "{}certs:\n    - \"-----BEGIN\\nMIIB\\n-----END\\n\"\n    - - \"\\nleading newline\\n\"\n      - \" leading space\\nx\"\n    - k: \"\\nv\\n\"\n",
        support::FIXTURE_PLAIN
    );
    std::fs::write(&file, plain).unwrap();
    let encrypted = support::rsops_ok(
        &[
            "encrypt",
            "--age",
            support::AGE1_RECIPIENT,
            file.to_str().unwrap(),
        ],
        &[],
    );
    std::fs::write(&file, encrypted).unwrap();
    let key_file = support::age1_key_file();
    for indent in ["0", "1", "2", "3", "4", "9", "10", "100000000000"] {
        let config = dir.path().join(format!("sops-{indent}.yaml"));
        std::fs::write(&config, format!("stores:\n  yaml:\n    indent: {indent}\n")).unwrap();
        let ours = support::rsops_ok(
            &[
                "--config",
                config.to_str().unwrap(),
                "decrypt",
                file.to_str().unwrap(),
            ],
            &[("SOPS_AGE_KEY_FILE", key_file.as_os_str())],
        );
        let theirs = std::process::Command::new(&sops)
            .args([
                "--config",
                config.to_str().unwrap(),
                "decrypt",
                file.to_str().unwrap(),
            ])
            .env("SOPS_AGE_KEY_FILE", &key_file)
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .output()
            .unwrap();
        assert!(theirs.status.success(), "sops failed for indent {indent}");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs.stdout),
            "indent {indent}"
        );
    }
}
