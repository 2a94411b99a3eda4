//! `rsops decrypt` against the fixed vectors in testdata/vectors/, made by the real sops 3.11.0
//! (scripts/make-vectors.sh). Each manifest row is one decrypt: same keys, same arguments, and the
//! output must be byte-identical to sops's recorded stdout with the same exit code. No row passes
//! `--ignore-mac`, so every success also proves the MAC was verified.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{expect_failure, expect_output, vectors_dir, Key, Report, Sandbox};

struct Row {
    case: String,
    encrypted: String,
    keys: Vec<Key>,
    args: Vec<String>,
    expected: Option<String>,
    exit: i32,
}

fn manifest() -> Vec<Row> {
    let path = vectors_dir().join("manifest.tsv");
    let text = std::fs::read_to_string(&path).expect("read testdata/vectors/manifest.tsv");
    let mut lines = text.lines();
    let header = lines.next().expect("manifest header");
    assert!(
        header.starts_with("case\tencrypted\tkeys\tdecrypt_args\texpected_stdout\texit"),
        "unexpected manifest header: {header}"
    );
    lines.filter(|l| !l.is_empty()).map(parse_row).collect()
}

fn parse_row(line: &str) -> Row {
    let cols: Vec<&str> = line.split('\t').collect();
    assert!(cols.len() >= 6, "short manifest row: {line}");
    Row {
        case: cols[0].to_string(),
        encrypted: cols[1].to_string(),
        keys: cols[2]
            .split(',')
            .filter(|k| !k.is_empty())
            .map(Key::parse)
            .collect(),
        args: shlex::split(cols[3]).unwrap_or_else(|| panic!("bad args in row {}", cols[0])),
        expected: (cols[4] != "-").then(|| cols[4].to_string()),
        exit: cols[5].parse().expect("exit code"),
    }
}

fn check_row(row: &Row, sandbox: &Sandbox, dir: &Path) -> Result<(), String> {
    let rsops = common::rsops();
    let mut args = vec!["decrypt".to_string()];
    args.extend(row.args.iter().cloned());
    args.push(dir.join(&row.encrypted).to_string_lossy().into_owned());
    let out = sandbox.run(&rsops, &args);
    match &row.expected {
        Some(file) => {
            let expected = std::fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
            if out.code != row.exit {
                return Err(format!("expected exit {}: {}", row.exit, out.summary()));
            }
            expect_output(&out, &expected)
        }
        None => expect_failure(&out, row.exit),
    }
}

#[test]
fn decrypt_matches_sops_vectors() {
    let dir = vectors_dir();
    let rows = manifest();
    // One sandbox per key set: importing PGP keys is the slow part.
    let mut sandboxes: BTreeMap<Vec<Key>, Sandbox> = BTreeMap::new();
    let mut report = Report::new("vectors: rsops decrypt == sops 3.11.0 output");
    for row in &rows {
        let sandbox = sandboxes
            .entry(row.keys.clone())
            .or_insert_with(|| Sandbox::new(&row.keys));
        report.case(&row.case, check_row(row, sandbox, &dir));
    }
    report.finish();
}

/// The manifest and the folder agree: no vector is left untested, no row points at nothing.
#[test]
fn manifest_covers_every_vector() {
    let dir = vectors_dir();
    let rows = manifest();
    let mut named = BTreeSet::new();
    for row in &rows {
        assert!(
            dir.join(&row.encrypted).is_file(),
            "{}: missing {}",
            row.case,
            row.encrypted
        );
        named.insert(row.encrypted.clone());
        if let Some(file) = &row.expected {
            assert!(dir.join(file).is_file(), "{}: missing {file}", row.case);
            named.insert(file.clone());
        }
    }
    for entry in std::fs::read_dir(&dir).expect("read vectors dir") {
        let name = entry
            .expect("dir entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let is_vector = name.contains(".enc.") || name.ends_with(".out");
        assert!(
            !is_vector || named.contains(&name),
            "{name} is in no manifest row"
        );
    }
    let cases: BTreeSet<&str> = rows.iter().map(|r| r.encrypted.as_str()).collect();
    eprintln!(
        "vectors: {} encrypted files, {} checks",
        cases.len(),
        rows.len()
    );
}

/// `filestatus` calls every vector encrypted, and a plaintext input not.
#[test]
fn filestatus_of_vectors() {
    let dir = vectors_dir();
    let rsops = common::rsops();
    let sandbox = Sandbox::new(&[]);
    let mut report = Report::new("vectors: rsops filestatus");
    let files: BTreeSet<String> = manifest().into_iter().map(|r| r.encrypted).collect();
    for file in &files {
        let path = dir.join(file);
        // The type flags mirror the manifest: a .txt vector holds YAML.
        let mut args: Vec<String> = vec!["filestatus".into()];
        if file.ends_with(".txt") {
            args.extend(["--input-type".into(), "yaml".into()]);
        }
        args.push(path.to_string_lossy().into_owned());
        let out = sandbox.run(&rsops, &args);
        report.case(file, expect_output(&out, b"{\"encrypted\":true}\n"));
    }
    let plain = common::inputs_dir().join("basic.yaml");
    let out = sandbox.run(&rsops, &["filestatus".as_ref(), plain.as_os_str()]);
    report.case(
        "inputs/basic.yaml",
        expect_output(&out, b"{\"encrypted\":false}\n"),
    );
    report.finish();
}

/// Every vector with one character of its MAC ciphertext changed must fail with sops's 51 and
/// print nothing: rsops really decrypts and checks the MAC of every format and key setup.
#[test]
fn tampered_mac_of_every_vector_fails() {
    let mac =
        regex::Regex::new(r#"(?m)^[ \t]*"?(?:sops_)?mac"?[ \t]*[:=][ \t]*"?ENC\[AES256_GCM,data:"#)
            .expect("regex");
    let dir = vectors_dir();
    let rsops = common::rsops();
    let work = tempfile::Builder::new()
        .prefix("rtv")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let mut sandboxes: BTreeMap<Vec<Key>, Sandbox> = BTreeMap::new();
    let mut report = Report::new("vectors: tampered MAC -> exit 51");
    let mut seen = BTreeSet::new();
    for row in manifest().into_iter().filter(|r| r.exit == 0) {
        if !seen.insert(row.encrypted.clone()) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(&row.encrypted)).expect("read vector");
        let Some(m) = mac.find(&text) else {
            report.case(&row.encrypted, Err("no mac found in the vector".into()));
            continue;
        };
        let at = m.end();
        let new = if text.as_bytes()[at] == b'A' {
            "B"
        } else {
            "A"
        };
        let tampered = format!("{}{new}{}", &text[..at], &text[at + 1..]);
        let path = work.path().join(&row.encrypted);
        std::fs::write(&path, tampered).expect("write tampered vector");
        let sandbox = sandboxes
            .entry(row.keys.clone())
            .or_insert_with(|| Sandbox::new(&row.keys));
        let mut args: Vec<String> = vec!["decrypt".into()];
        // Only the type flags of the row: an --extract must not hide the MAC failure.
        let mut it = row.args.iter();
        while let Some(a) = it.next() {
            if a == "--input-type" || a == "--output-type" {
                args.push(a.clone());
                args.extend(it.next().cloned());
            }
        }
        args.push(path.to_string_lossy().into_owned());
        let out = sandbox.run(&rsops, &args);
        report.case(&row.encrypted, common::expect_failure(&out, 51));
    }
    report.finish();
}
