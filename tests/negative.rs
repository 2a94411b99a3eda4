//! Failure behaviour on files written by the real sops: tampering, missing pieces, wrong keys,
//! bad input and bad `--extract` paths. For every case both tools run on the same file with the
//! same keys; rsops must exit with sops's code and write nothing to stdout. Where sops's code is
//! known (and documented), the test also checks sops still gives it, so a drifting environment is
//! noticed instead of silently changing the expectation.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

use common::{expect_failure, expect_output, inputs_dir, Key, Outcome, Report, Sandbox};

/// One run to compare: `args` (the file is part of them, relative to the fixture dir), made with
/// only `keys` available.
struct Case {
    name: String,
    args: Vec<String>,
    keys: Vec<Key>,
    /// sops's documented exit code; None = whatever sops does is the expectation.
    documented: Option<i32>,
}

fn case(name: &str, keys: &[Key], documented: Option<i32>, args: &[&str]) -> Case {
    Case {
        name: name.to_string(),
        args: args.iter().map(|s| s.to_string()).collect(),
        keys: keys.to_vec(),
        documented,
    }
}

/// The fixture dir: sops-encrypted files and their damaged copies, made fresh for each run.
struct Fixtures {
    maker: Sandbox,
}

impl Fixtures {
    fn new() -> Fixtures {
        Fixtures {
            maker: Sandbox::new(&Key::ALL),
        }
    }

    fn dir(&self) -> PathBuf {
        self.maker.work()
    }

    /// `sops encrypt <recipients> inputs/<input>` written as `name`; returns its text.
    fn encrypt(&self, name: &str, input: &str, recipients: &[Key], extra: &[&str]) -> String {
        let mut args: Vec<String> = vec!["encrypt".into()];
        for key in recipients {
            args.push(key.flag().into());
            args.push(key.recipient());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(inputs_dir().join(input).to_string_lossy().into_owned());
        let out = self.maker.run(&common::sops(), &args);
        assert!(out.ok(), "fixture {name}: {}", out.summary());
        self.write(name, &out.stdout);
        String::from_utf8(out.stdout).expect("sops output of a text format is UTF-8")
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        self.maker.put(name, bytes);
    }

    /// A plaintext input copied as `name`.
    fn copy_input(&self, name: &str, input: &str) {
        let bytes = std::fs::read(inputs_dir().join(input)).expect("read input");
        self.write(name, &bytes);
    }
}

/// The ENC[...] value of the first line whose key matches `key` (a regex), with the byte range.
fn find_enc(text: &str, key: &str) -> (usize, usize) {
    let re = Regex::new(&format!(
        r#"(?m)^[ \t]*"?(?:{key})"?[ \t]*[:=][ \t]*"?(ENC\[[^\]]*\])"#
    ))
    .expect("regex");
    let m = re
        .captures(text)
        .and_then(|c| c.get(1))
        .unwrap_or_else(|| panic!("no ENC value for key {key}"));
    (m.start(), m.end())
}

/// Changes the first character of the `data:` of `key`'s ENC value (still valid base64).
fn tamper_data(text: &str, key: &str) -> String {
    let (start, end) = find_enc(text, key);
    let data_at = start + text[start..end].find("data:").expect("data field") + "data:".len();
    let old = text.as_bytes()[data_at];
    let new = if old == b'A' { 'B' } else { 'A' };
    format!("{}{}{}", &text[..data_at], new, &text[data_at + 1..])
}

/// Exchanges the ENC values of two keys (each stays valid, but under the other key's AAD).
fn swap_values(text: &str, a: &str, b: &str) -> String {
    let (a0, a1) = find_enc(text, a);
    let (b0, b1) = find_enc(text, b);
    let (first, second) = if a0 < b0 {
        ((a0, a1), (b0, b1))
    } else {
        ((b0, b1), (a0, a1))
    };
    format!(
        "{}{}{}{}{}",
        &text[..first.0],
        &text[second.0..second.1],
        &text[first.1..second.0],
        &text[first.0..first.1],
        &text[second.1..]
    )
}

/// Drops every line that matches `pattern`.
fn drop_lines(text: &str, pattern: &str) -> String {
    let re = Regex::new(pattern).expect("regex");
    text.split_inclusive('\n')
        .filter(|l| !re.is_match(l))
        .collect()
}

/// Builds the fixtures and the cases that use them.
fn cases(fx: &Fixtures) -> Vec<Case> {
    use Key::*;
    let mut cases = Vec::new();
    let a1 = &[Age1][..];

    // --- tampering, every structured format ---------------------------------------------------
    let formats: [(&str, &str, &str, &str, &str); 4] = [
        // (ext, input, an encrypted key, another encrypted key, the MAC key)
        ("yaml", "partial.yaml", "api_key", "PASSWORD", "mac"),
        ("json", "basic.json", "password", "name", "mac"),
        ("env", "basic.env", "DB_PASSWORD", "DB_HOST", "sops_mac"),
        ("ini", "basic.ini", "password", "host", "mac"),
    ];
    for (ext, input, key, other, mac) in formats {
        let good = fx.encrypt(&format!("good.{ext}"), input, a1, &[]);
        let variants = [
            ("tampered_value", tamper_data(&good, key), Some(25)),
            ("tampered_mac", tamper_data(&good, mac), Some(51)),
            ("swapped_values", swap_values(&good, key, other), Some(25)),
            (
                "missing_mac",
                drop_lines(&good, &format!(r#"^[ \t]*"?{mac}"?[ \t]*[:=]"#)),
                Some(51),
            ),
            ("truncated", good[..good.len() / 2].to_string(), Some(1)),
            ("no_metadata", cut_metadata(&good, ext), Some(1)),
        ];
        for (what, text, code) in variants {
            let file = format!("{what}.{ext}");
            fx.write(&file, text.as_bytes());
            cases.push(case(
                &format!("{ext}/{what}"),
                a1,
                code,
                &["decrypt", &file],
            ));
            if what != "truncated" && what != "no_metadata" {
                // --ignore-mac skips only the MAC check: MAC cases now succeed, value cases don't.
                let code = if what.ends_with("mac") { Some(0) } else { code };
                let name = format!("{ext}/{what} --ignore-mac");
                cases.push(case(&name, a1, code, &["decrypt", "--ignore-mac", &file]));
            }
        }
        let name = format!("{ext}/already_encrypted");
        let file = format!("good.{ext}");
        let age1 = Age1.recipient();
        cases.push(case(
            &name,
            a1,
            Some(203),
            &["encrypt", "--age", &age1, &file],
        ));
    }

    // A plaintext value is covered by the MAC (unless mac_only_encrypted).
    let good = fx.encrypt("plainmac.yaml", "partial.yaml", a1, &[]);
    let text = good.replace(
        "api_key_unencrypted: plain-key",
        "api_key_unencrypted: plain-kex",
    );
    fx.write("tampered_plain.yaml", text.as_bytes());
    cases.push(case(
        "yaml/tampered_plain_value",
        a1,
        Some(51),
        &["decrypt", "tampered_plain.yaml"],
    ));

    // Multi-document YAML: damage in the second document.
    let good = fx.encrypt("multi.yaml", "multidoc.yaml", a1, &[]);
    fx.write(
        "multi_tampered.yaml",
        tamper_data(&good, "token").as_bytes(),
    );
    cases.push(case(
        "yaml/multidoc_tampered_second_doc",
        a1,
        Some(25),
        &["decrypt", "multi_tampered.yaml"],
    ));

    // A value's type tag changed: the plaintext no longer parses as that type.
    let good = fx.encrypt("typed.yaml", "partial.yaml", a1, &[]);
    let (start, end) = find_enc(&good, "api_key");
    let retyped = good[start..end].replace("type:str]", "type:int]");
    let text = format!("{}{}{}", &good[..start], retyped, &good[end..]);
    fx.write("retyped.yaml", text.as_bytes());
    cases.push(case(
        "yaml/type_tag_changed",
        a1,
        Some(25),
        &["decrypt", "retyped.yaml"],
    ));

    // lastmodified is the MAC's additional data.
    let text = Regex::new(r#"(?m)^    lastmodified: .*$"#)
        .expect("regex")
        .replace(&good, "    lastmodified: \"2001-02-03T04:05:06Z\"")
        .into_owned();
    fx.write("lastmodified.yaml", text.as_bytes());
    cases.push(case(
        "yaml/lastmodified_changed",
        a1,
        Some(51),
        &["decrypt", "lastmodified.yaml"],
    ));

    // --- keys ---------------------------------------------------------------------------------
    fx.encrypt("to_age2.yaml", "partial.yaml", &[Age2], &[]);
    cases.push(case(
        "keys/age_not_held",
        a1,
        Some(128),
        &["decrypt", "to_age2.yaml"],
    ));
    cases.push(case(
        "keys/no_keys_at_all",
        &[],
        Some(128),
        &["decrypt", "to_age2.yaml"],
    ));
    fx.encrypt("to_ed25519.json", "basic.json", &[PgpEd25519], &[]);
    cases.push(case(
        "keys/pgp_not_held",
        &[PgpRsa, Age1],
        Some(128),
        &["decrypt", "to_ed25519.json"],
    ));
    let good = fx.encrypt("stanza.yaml", "partial.yaml", a1, &[]);
    fx.write(
        "no_stanza_enc.yaml",
        drop_lines(&good, r"^\s+enc:").as_bytes(),
    );
    // The armored lines under `enc: |` stay behind as junk; sops decides what that means.
    cases.push(case(
        "keys/age_stanza_damaged",
        a1,
        None,
        &["decrypt", "no_stanza_enc.yaml"],
    ));
    let age1 = Age1.recipient();
    let age2 = Age2.recipient();
    let rsa = PgpRsa.recipient();
    let config = format!(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{age1}]\n      - age: [{age2}]\n      - pgp: [{rsa}]\n"
    );
    fx.write("shamir.sops.yaml", config.as_bytes());
    fx.copy_input("shamir_in.yaml", "partial.yaml");
    let args = ["--config", "shamir.sops.yaml", "encrypt", "shamir_in.yaml"];
    let out = fx.maker.run(&common::sops(), &args);
    assert!(out.ok(), "shamir fixture: {}", out.summary());
    fx.write("shamir.yaml", &out.stdout);
    cases.push(case(
        "keys/shamir_one_share_of_two_needed",
        &[Age2],
        Some(128),
        &["decrypt", "shamir.yaml"],
    ));
    cases.push(case(
        "keys/shamir_one_pgp_share",
        &[PgpRsa],
        Some(128),
        &["decrypt", "shamir.yaml"],
    ));

    // --- files that are not there or not encrypted ----------------------------------------------
    cases.push(case(
        "file/missing_decrypt",
        a1,
        Some(100),
        &["decrypt", "no_such_file.yaml"],
    ));
    cases.push(case(
        "file/missing_encrypt",
        a1,
        Some(100),
        &["encrypt", "--age", &age1, "no_such_file.yaml"],
    ));
    fx.copy_input("plain.yaml", "partial.yaml");
    cases.push(case(
        "file/decrypt_plaintext",
        a1,
        Some(1),
        &["decrypt", "plain.yaml"],
    ));
    fx.copy_input("empty.yaml", "empty.yaml");
    cases.push(case(
        "file/decrypt_empty",
        a1,
        Some(1),
        &["decrypt", "empty.yaml"],
    ));
    cases.push(case(
        "file/encrypt_empty_yaml",
        a1,
        Some(92),
        &["encrypt", "--age", &age1, "empty.yaml"],
    ));
    fx.write("empty.json", b"");
    cases.push(case(
        "file/encrypt_empty_json",
        a1,
        Some(2),
        &["encrypt", "--age", &age1, "empty.json"],
    ));
    cases.push(case(
        "file/encrypt_without_keys",
        a1,
        None,
        &["encrypt", "plain.yaml"],
    ));

    // --- input the stores reject ------------------------------------------------------------------
    let bad_inputs: [(&str, &[u8], Option<i32>); 9] = [
        ("bad_syntax.yaml", b"a: [\n", Some(2)),
        ("duplicate_key.yaml", b"a: 1\na: 2\n", Some(2)),
        ("top_level_list.yaml", b"- a\n- b\n", Some(2)),
        ("top_level_array.json", b"[1, 2]\n", Some(2)),
        ("no_equals.env", b"A=1\nnoequals\n", Some(2)),
        ("sops_key.env", b"sops_x=1\n", Some(203)),
        ("unclosed_section.ini", b"[sec\nx=1\n", Some(2)),
        ("non_string_key.yaml", b"1: a\n", Some(23)),
        ("uint64.yaml", b"big: 18446744073709551615\n", Some(23)),
    ];
    for (file, bytes, code) in bad_inputs {
        fx.write(file, bytes);
        let name = format!("input/{file}");
        cases.push(case(&name, a1, code, &["encrypt", "--age", &age1, file]));
    }
    fx.write("top_level_sops.yaml", b"sops: x\na: 1\n");
    cases.push(case(
        "input/top_level_sops.yaml",
        a1,
        Some(203),
        &["encrypt", "--age", &age1, "top_level_sops.yaml"],
    ));

    // --- --extract ------------------------------------------------------------------------------------
    // Not here: `["api_key"]["x"]` (a key under a string), where sops 3.11 panics (exit 2).
    let extracts: [(&str, &str, Option<i32>); 6] = [
        ("no_brackets", "api_key", Some(91)),
        ("unclosed", r#"["data""#, Some(91)),
        ("index_not_a_number", "[x]", Some(91)),
        ("missing_key", r#"["no_such_key"]"#, Some(1)),
        ("missing_nested_key", r#"["data"]["nope"]"#, Some(1)),
        ("index_into_string", r#"["api_key"][0]"#, Some(1)),
    ];
    for (what, path, code) in extracts {
        let name = format!("extract/{what}");
        cases.push(case(
            &name,
            a1,
            code,
            &["decrypt", "--extract", path, "good.yaml"],
        ));
    }
    cases
}

/// The file cut just before its metadata (what remains parses, but has no `sops` entry).
fn cut_metadata(text: &str, ext: &str) -> String {
    match ext {
        "yaml" => text[..text.find("\nsops:\n").expect("yaml sops block") + 1].to_string(),
        "json" => {
            let at = text.rfind(",\n\t\"sops\": {").expect("json sops block");
            format!("{}\n}}\n", &text[..at])
        }
        "env" => drop_lines(text, r"^sops_"),
        "ini" => text[..text.find("[sops]").expect("ini sops section")].to_string(),
        other => panic!("no metadata cut for {other}"),
    }
}

fn check(case: &Case, sandbox: &Sandbox, dir: &Path) -> Result<(), String> {
    let sops = sandbox.run_in(&common::sops(), dir, &case.args, &[]);
    if std::env::var_os("RSOPS_TEST_VERBOSE").is_some() {
        eprintln!("{}: sops exited {}", case.name, sops.code);
    }
    if let Some(code) = case.documented {
        if sops.code != code {
            return Err(format!(
                "harness: sops itself exited {}, documented {code}: {}",
                sops.code,
                sops.summary()
            ));
        }
    }
    let rsops = sandbox.run_in(&common::rsops(), dir, &case.args, &[]);
    if sops.ok() {
        return expect_output(&rsops, &sops.stdout);
    }
    if !sops.stdout.is_empty() {
        return Err(format!(
            "harness: failing sops wrote to stdout: {}",
            sops.summary()
        ));
    }
    expect_failure(&rsops, sops.code)?;
    expect_no_mac_printed(&rsops, &sops)
}

/// sops prints both MACs on a mismatch: unsalted SHA-512s over the plaintext values, which let a
/// reader of stderr brute-force a short value. rsops keeps the words and drops the hashes.
fn expect_no_mac_printed(rsops: &Outcome, sops: &Outcome) -> Result<(), String> {
    if rsops.code != 51 {
        return Ok(());
    }
    let rsops_err = String::from_utf8_lossy(&rsops.stderr);
    if let Some(run) = long_hex_run(&rsops_err) {
        return Err(format!("stderr carries a hash ({} hex digits)", run.len()));
    }
    let sops_err = String::from_utf8_lossy(&sops.stderr);
    if !sops_err.contains("MAC mismatch") {
        return Ok(());
    }
    if !rsops_err.contains("MAC mismatch") {
        return Err(format!("MAC mismatch without sops's words: {rsops_err}"));
    }
    if long_hex_run(&sops_err).is_none() {
        return Err("harness: sops's MAC mismatch no longer prints a hash; recheck".into());
    }
    Ok(())
}

/// The first run of 32 or more hexadecimal digits: a digest, never part of sops's wording.
fn long_hex_run(text: &str) -> Option<&str> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .find(|run| run.len() >= 32)
}

#[test]
fn failures_match_sops() {
    let fx = Fixtures::new();
    let cases = cases(&fx);
    let dir = fx.dir();
    let mut sandboxes: BTreeMap<Vec<Key>, Sandbox> = BTreeMap::new();
    let mut report = Report::new("negative: rsops fails like sops, stdout empty");
    for case in &cases {
        let mut keys = case.keys.clone();
        keys.sort();
        let sandbox = sandboxes
            .entry(keys.clone())
            .or_insert_with(|| Sandbox::new(&keys));
        report.case(&case.name, check(case, sandbox, &dir));
    }
    report.finish();
}
