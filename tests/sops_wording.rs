//! sops's wording: for every failure sops 3.11.0 reports with a fixed message, the first line of
//! rsops's stderr is sops's line, byte for byte, and the exit code is sops's (scripts and
//! wrappers grep those lines). Both tools run on the same input in the same directory; rsops's
//! own explanation and hint may follow on later lines. One exception, by design: sops's
//! MAC-mismatch line carries both MACs, unsalted hashes of the plaintext, which rsops never prints:
//! the words must match up to the first hash, and rsops's line must hold no hash.

mod common;

use common::{rsops, sops, Key, Outcome, Report, Sandbox};

/// How much of sops's first line rsops must repeat.
#[derive(Clone, Copy)]
enum Match {
    Line,
    /// Up to the first MAC (`MAC mismatch. File has `).
    BeforeHash,
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    code: i32,
    matching: Match,
}

fn case(name: &'static str, code: i32, args: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        matching: Match::Line,
    }
}

fn first_line(out: &Outcome) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// The fixtures, all made by the real sops in the sandbox's work dir.
fn fixtures(sandbox: &Sandbox) {
    let age1 = Key::Age1.recipient();
    let age2 = Key::Age2.recipient();
    sandbox.put("plain.yaml", b"a: 1\nb_unencrypted: open\n");
    sandbox.put("empty.yaml", b"");
    let make = |name: &str, recipient: &str| {
        let out = sandbox.run(&sops(), &["encrypt", "--age", recipient, "plain.yaml"]);
        assert!(out.ok(), "harness: {}", out.summary());
        sandbox.put(name, &out.stdout);
        String::from_utf8(out.stdout).unwrap()
    };
    let good = make("good.yaml", &age1);
    make("for_age2.yaml", &age2);
    let changed = |name: &str, from: &str, to: &str| {
        assert!(good.contains(from), "harness: no {from:?} in the fixture");
        sandbox.put(name, good.replacen(from, to, 1).as_bytes());
    };
    changed(
        "plain_changed.yaml",
        "b_unencrypted: open",
        "b_unencrypted: shut",
    );
    // Another base64 digit in place of the first: still a valid value, no longer authentic.
    let at = good.find("a: ENC[AES256_GCM,data:").expect("harness: a") + 23;
    let digit = if &good[at..at + 1] == "A" { "B" } else { "A" };
    let tampered = format!("{}{digit}{}", &good[..at], &good[at + 1..]);
    sandbox.put("value_tampered.yaml", tampered.as_bytes());
    let lastmodified = good
        .lines()
        .find(|l| l.trim_start().starts_with("lastmodified:"))
        .expect("harness: lastmodified");
    changed(
        "mac_unreadable.yaml",
        lastmodified,
        "    lastmodified: \"2001-02-03T04:05:06Z\"",
    );
    let rules = format!("creation_rules:\n  - path_regex: \\.json$\n    age: {age1}\n");
    sandbox.put("ruled/.sops.yaml", rules.as_bytes());
    sandbox.put("ruled/plain.yaml", b"a: 1\n");
}

fn cases() -> Vec<Case> {
    let age1 = Key::Age1.recipient();
    let a = age1.as_str();
    let mut cases = vec![
        case("decrypt a missing file", 100, &["decrypt", "missing.yaml"]),
        case(
            "encrypt a missing file",
            100,
            &["encrypt", "--age", a, "missing.yaml"],
        ),
        case("legacy -d on a missing file", 100, &["-d", "missing.yaml"]),
        case("sops metadata not found", 1, &["decrypt", "plain.yaml"]),
        case(
            "file already encrypted",
            203,
            &["encrypt", "--age", a, "good.yaml"],
        ),
        case("empty file", 92, &["encrypt", "--age", a, "empty.yaml"]),
        case(
            "MAC cannot be decrypted",
            51,
            &["decrypt", "mac_unreadable.yaml"],
        ),
        case("value tampered", 25, &["decrypt", "value_tampered.yaml"]),
        case(
            "no key can decrypt the data key",
            128,
            &["decrypt", "for_age2.yaml"],
        ),
        case("no keys given", 1, &["encrypt", "plain.yaml"]),
        case(
            "no matching creation rule",
            1,
            &["encrypt", "ruled/plain.yaml"],
        ),
        case(
            "--output with --in-place",
            8,
            &["decrypt", "-i", "--output", "out.yaml", "good.yaml"],
        ),
        case(
            "extract a missing key",
            1,
            &["decrypt", "--extract", r#"["zz"]"#, "good.yaml"],
        ),
        case(
            "extract path unterminated",
            91,
            &["decrypt", "--extract", r#"["zz""#, "good.yaml"],
        ),
        case(
            "extract path without brackets",
            91,
            &["decrypt", "--extract", "zz", "good.yaml"],
        ),
        case(
            "unset a missing key",
            1,
            &["unset", "good.yaml", r#"["zz"]"#],
        ),
        case(
            "set index malformed",
            7,
            &["set", "good.yaml", r#"["a""#, "1"],
        ),
        case(
            "set value not JSON",
            7,
            &["set", "good.yaml", r#"["a"]"#, "nope"],
        ),
        case("rotate without a file", 100, &["rotate"]),
        case(
            "encrypt stdin without --filename-override",
            8,
            &["encrypt", "--age", a],
        ),
    ];
    cases.push(Case {
        matching: Match::BeforeHash,
        ..case("MAC mismatch", 51, &["decrypt", "plain_changed.yaml"])
    });
    cases
}

fn check(sandbox: &Sandbox, case: &Case) -> Result<(), String> {
    let theirs = sandbox.run(&sops(), &case.args);
    if theirs.code != case.code {
        return Err(format!(
            "harness: sops exited {}, expected {}: {}",
            theirs.code,
            case.code,
            theirs.summary()
        ));
    }
    let ours = sandbox.run(&rsops(), &case.args);
    if ours.code != theirs.code {
        return Err(format!(
            "exit {} (sops {}): {}",
            ours.code,
            theirs.code,
            ours.summary()
        ));
    }
    let (want, got) = (first_line(&theirs), first_line(&ours));
    let want = match case.matching {
        Match::Line => want,
        Match::BeforeHash => {
            const WORDS: &str = "MAC mismatch. File has ";
            if !want.starts_with(WORDS) {
                return Err(format!("harness: sops said {want:?}"));
            }
            if got
                .split(|c: char| !c.is_ascii_hexdigit())
                .any(|run| run.len() >= 32)
            {
                return Err(format!("rsops printed a MAC: {got:?}"));
            }
            if !got.starts_with(WORDS) {
                return Err(format!("first line {got:?}, sops's words {WORDS:?}"));
            }
            return Ok(());
        }
    };
    if got != want {
        return Err(format!("first line\n  rsops: {got:?}\n  sops:  {want:?}"));
    }
    Ok(())
}

#[test]
fn first_stderr_line_is_sops_wording() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    fixtures(&sandbox);
    let mut report = Report::new("sops wording: first stderr line and exit code");
    for case in cases() {
        report.case(case.name, check(&sandbox, &case));
    }
    report.finish();
}

// --- legacy flag forms ---------------------------------------------------------------------------

/// What a legacy-mode run is judged by, besides its exit code and first stderr line.
#[derive(Clone, Copy)]
enum Judge {
    Stdout,
    /// The named file afterwards: its plaintext (decrypted by the real sops) and its recipients.
    Encrypted(&'static str),
    /// The named file afterwards, byte for byte (a plaintext output).
    Plain(&'static str),
    /// Only the exit code and the first stderr line.
    Failure,
}

struct Legacy {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    judge: Judge,
}

fn legacy(name: &'static str, judge: Judge, args: &[&str]) -> Legacy {
    Legacy {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        judge,
    }
}

fn legacy_cases() -> Vec<Legacy> {
    let (age1, age2) = (Key::Age1.recipient(), Key::Age2.recipient());
    let (a1, a2) = (age1.as_str(), age2.as_str());
    use Judge::*;
    vec![
        legacy(
            "--set a number",
            Encrypted("good.yaml"),
            &["--set", r#"["a"] 2"#, "good.yaml"],
        ),
        legacy(
            "--set a new nested value",
            Encrypted("good.yaml"),
            &["--set", r#"["new"] {"x": [1, "y"]}"#, "good.yaml"],
        ),
        legacy(
            "--set without a value",
            Failure,
            &["--set", r#"["a"]"#, "good.yaml"],
        ),
        legacy(
            "--set with a bad path",
            Failure,
            &["--set", r#"a] 1"#, "good.yaml"],
        ),
        legacy(
            "-d --extract",
            Stdout,
            &["-d", "--extract", r#"["a"]"#, "good.yaml"],
        ),
        legacy(
            "--decrypt --decryption-order",
            Stdout,
            &["--decrypt", "--decryption-order", "age,pgp", "good.yaml"],
        ),
        legacy(
            "-d --output",
            Plain("out.yaml"),
            &["-d", "--output", "out.yaml", "good.yaml"],
        ),
        legacy("-d -i", Plain("good.yaml"), &["-d", "-i", "good.yaml"]),
        legacy(
            "-e -i --age",
            Encrypted("plain.yaml"),
            &["-e", "-i", "--age", a1, "plain.yaml"],
        ),
        legacy(
            "--encrypt --encrypted-regex",
            Encrypted("plain.yaml"),
            &[
                "--encrypt",
                "-i",
                "--age",
                a1,
                "--encrypted-regex",
                "^a$",
                "plain.yaml",
            ],
        ),
        legacy("-r -i", Encrypted("good.yaml"), &["-r", "-i", "good.yaml"]),
        legacy(
            "--rotate --add-age",
            Encrypted("good.yaml"),
            &["--rotate", "-i", "--add-age", a2, "good.yaml"],
        ),
        legacy(
            "-r --rm-age",
            Encrypted("both.yaml"),
            &["-r", "-i", "--rm-age", a2, "both.yaml"],
        ),
        legacy(
            "-r --add-kms on a missing file",
            Failure,
            &[
                "-r",
                "--add-kms",
                "arn:aws:kms:us-east-1:000000000000:key/k",
                "missing.yaml",
            ],
        ),
        legacy(
            "-e on a missing file",
            Failure,
            &["-e", "--age", a1, "missing.yaml"],
        ),
        Legacy {
            env: vec![("EDITOR", "true"), ("SOPS_EDITOR", "true")],
            ..legacy(
                "-s with an editor that changes nothing",
                Failure,
                &["-s", "good.yaml"],
            )
        },
    ]
}

/// The plaintext of `file` as the real sops decrypts it, and its age recipients in order.
fn opened(dir: &std::path::Path, file: &str) -> Result<(Vec<u8>, Vec<String>), String> {
    let both = Sandbox::new(&[Key::Age1, Key::Age2]);
    let out = both.run_in(&sops(), dir, &["decrypt", file], &[]);
    if !out.ok() {
        return Err(format!("sops cannot decrypt the result: {}", out.summary()));
    }
    let text = std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string())?;
    let recipients = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- recipient: "))
        .map(str::to_string)
        .collect();
    Ok((out.stdout, recipients))
}

fn run_legacy(sandbox: &Sandbox, index: usize, case: &Legacy) -> Result<(), String> {
    let mut results = Vec::new();
    for tool in [sops(), rsops()] {
        let dir = sandbox.work().join(format!("legacy{index}-{}", tool.name));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for name in ["good.yaml", "both.yaml", "plain.yaml"] {
            std::fs::copy(sandbox.work().join(name), dir.join(name)).map_err(|e| e.to_string())?;
        }
        let env: Vec<(&str, &str)> = case.env.clone();
        let out = sandbox.run_in(&tool, &dir, &case.args, &env);
        results.push((dir, out));
    }
    let ((sops_dir, theirs), (rsops_dir, ours)) = (&results[0], &results[1]);
    if ours.code != theirs.code {
        return Err(format!(
            "exit {} (sops {}): {}",
            ours.code,
            theirs.code,
            ours.summary()
        ));
    }
    // Each tool ran in its own copy of the files; paths in messages differ only by that.
    let ours_line = first_line(ours).replace(&*rsops_dir.to_string_lossy(), "DIR");
    let theirs_line = first_line(theirs).replace(&*sops_dir.to_string_lossy(), "DIR");
    if !theirs.ok() && ours_line != theirs_line {
        return Err(format!(
            "first line\n  rsops: {ours_line:?}\n  sops:  {theirs_line:?}"
        ));
    }
    match case.judge {
        Judge::Failure if theirs.ok() => Err("harness: sops succeeded".into()),
        Judge::Failure => Ok(()),
        Judge::Stdout => common::compare_bytes("stdout", &theirs.stdout, &ours.stdout),
        Judge::Plain(file) => {
            let read = |dir: &std::path::PathBuf| std::fs::read(dir.join(file)).unwrap_or_default();
            common::compare_bytes(file, &read(sops_dir), &read(rsops_dir))
        }
        Judge::Encrypted(file) => {
            let (want, want_recipients) = opened(sops_dir, file)?;
            let (got, got_recipients) = opened(rsops_dir, file)?;
            common::compare_bytes("plaintext", &want, &got)?;
            if want_recipients != got_recipients {
                return Err(format!(
                    "recipients {got_recipients:?}, sops {want_recipients:?}"
                ));
            }
            Ok(())
        }
    }
}

#[test]
fn legacy_flag_forms_match_sops() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    fixtures(&sandbox);
    let both = sandbox.run(
        &sops(),
        &[
            "encrypt",
            "--age",
            &format!("{},{}", Key::Age1.recipient(), Key::Age2.recipient()),
            "plain.yaml",
        ],
    );
    assert!(both.ok(), "harness: {}", both.summary());
    sandbox.put("both.yaml", &both.stdout);
    let mut report = Report::new("legacy flag forms: same exit, output and file as sops");
    for (index, case) in legacy_cases().iter().enumerate() {
        report.case(case.name, run_legacy(&sandbox, index, case));
    }
    report.finish();
}
