//! Day-to-day workflows against the real sops 3.11.0: edit, set/unset, rotate, updatekeys, key
//! groups with Shamir, groups add/delete, exec-env, exec-file and --decryption-order. Every file
//! rsops changes is read back by sops, sops's files are changed by rsops, and where both tools
//! can do the same thing the outputs and exit codes are compared.

mod common;
use common::lab;

use common::PGP_RSA_FP;
use lab::{age1, age2, changed_lines, ivs, key_file, line_of, payloads, Lab, Tool};

const PLAIN: &str = "a: 1\nb:\n    c: hello # a comment\n    d: [1, 2]\nt: true\n";

/// A lab with `s.yaml`, encrypted by sops for age key 1, and `plain.yaml`.
fn sops_file() -> Lab {
    let lab = Lab::new();
    lab.write("plain.yaml", PLAIN);
    lab.sops_encrypt_age("plain.yaml", "s.yaml", &age1());
    lab
}

fn k1() -> String {
    key_file("age1.txt")
}

fn k2() -> String {
    key_file("age2.txt")
}

fn with_k1() -> [(&'static str, String); 1] {
    [("SOPS_AGE_KEY_FILE", k1())]
}

fn envs<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn sops_plain(lab: &Lab, file: &str) -> String {
    lab.decrypt_with(Tool::Sops, file, &k1()).ok().text()
}

// ---------------------------------------------------------------- set / unset

#[test]
fn set_matches_sops_for_every_kind_of_value() {
    let lab = sops_file();
    let k = with_k1();
    let cases: [(&str, &str); 6] = [
        (r#"["b"]["c"]"#, r#""world""#),
        (r#"["n"]"#, "5"),
        (
            r#"["b"]["new"]["deep"]"#,
            r#"{"x": [1, "two", true], "y": null}"#,
        ),
        (r#"["b"]["d"][1]"#, "2.5"),
        (r#"["s"]"#, r#""line1\nline2""#),
        (r#"["t"]"#, "false"),
    ];
    for (i, (path, value)) in cases.iter().enumerate() {
        let (ours, theirs) = (format!("r{i}.yaml"), format!("s{i}.yaml"));
        lab.copy("s.yaml", &ours);
        lab.copy("s.yaml", &theirs);
        lab.rsops(&["set", &ours, path, value], &envs(&k)).ok();
        lab.sops(&["set", &theirs, path, value], &envs(&k)).ok();
        assert_eq!(
            sops_plain(&lab, &ours),
            sops_plain(&lab, &theirs),
            "set {path} {value}"
        );
        let types = |f: &str| -> Vec<String> {
            lab.read_str(f)
                .split(",type:")
                .skip(1)
                .map(|s| s.split(']').next().unwrap().to_string())
                .collect()
        };
        // Numbers inside objects and arrays go through the JSON store, which types integers as
        // sops 3.13 does (`int`); 3.11 makes them `float`. The decrypted text is the same.
        if !value.starts_with('{') {
            assert_eq!(types(&ours), types(&theirs), "value types after set {path}");
        }
    }
    // `5` is a float, as in sops.
    assert!(lab.read_str("r1.yaml").contains(",type:float]"));
    // Values that were not set keep their ciphertext.
    let before = lab.read_str("s.yaml");
    let after = lab.read_str("r0.yaml");
    let changed = changed_lines(&before, &after);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].0.trim_start().starts_with("c: ENC["));
}

#[test]
fn set_from_value_file_and_stdin() {
    let lab = sops_file();
    let k = with_k1();
    lab.copy("s.yaml", "f.yaml");
    lab.write("value.json", r#"{"user": "app", "port": 5432}"#);
    lab.rsops(
        &["set", "--value-file", "f.yaml", r#"["db"]"#, "value.json"],
        &envs(&k),
    )
    .ok();
    lab.copy("s.yaml", "i.yaml");
    lab.run_with(
        Tool::Rsops,
        &["set", "--value-stdin", "i.yaml", r#"["db"]"#],
        &envs(&k),
        br#"{"user": "app", "port": 5432}"#,
    )
    .ok();
    lab.copy("s.yaml", "o.yaml");
    lab.sops(
        &["set", "--value-file", "o.yaml", r#"["db"]"#, "value.json"],
        &envs(&k),
    )
    .ok();
    let expected = sops_plain(&lab, "o.yaml");
    assert!(expected.contains("db:\n    user: app\n    port: 5432\n"));
    assert_eq!(sops_plain(&lab, "f.yaml"), expected);
    assert_eq!(sops_plain(&lab, "i.yaml"), expected);
}

#[test]
fn set_idempotent_leaves_the_file_untouched() {
    let lab = sops_file();
    let k = with_k1();
    for (path, value) in [(r#"["b"]["c"]"#, r#""hello""#), (r#"["t"]"#, "true")] {
        for tool in [Tool::Rsops, Tool::Sops] {
            lab.copy("s.yaml", "x.yaml");
            lab.run(
                tool,
                &["set", "--idempotent", "x.yaml", path, value],
                &envs(&k),
            )
            .ok();
            assert_eq!(lab.read("x.yaml"), lab.read("s.yaml"), "{tool:?} {path}");
        }
    }
    // Without --idempotent the same value still rewrites the file (new lastmodified and MAC).
    lab.copy("s.yaml", "x.yaml");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    lab.rsops(&["set", "x.yaml", r#"["t"]"#, "true"], &envs(&k))
        .ok();
    assert_ne!(lab.read("x.yaml"), lab.read("s.yaml"));
    assert!(changed_lines(&lab.read_str("s.yaml"), &lab.read_str("x.yaml")).is_empty());
}

#[test]
fn set_rejects_bad_input_like_sops() {
    let lab = sops_file();
    let k = with_k1();
    let before = lab.read("s.yaml");
    for args in [
        vec!["set", "s.yaml", r#"["a"]"#, "not json"],
        vec!["set", "s.yaml", "a.b", "1"],
        vec!["set", "s.yaml", r#"["a"]"#],
    ] {
        let ours = lab.rsops(&args, &envs(&k));
        let theirs = lab.sops(&args, &envs(&k));
        assert_ne!(ours.code, 0, "{args:?}");
        assert_eq!(ours.code, theirs.code, "{args:?}: {}", ours.stderr);
    }
    assert_eq!(lab.read("s.yaml"), before);
}

#[test]
fn unset_matches_sops() {
    let lab = sops_file();
    let k = with_k1();
    for path in [r#"["b"]["d"]"#, r#"["b"]["d"][0]"#, r#"["a"]"#] {
        lab.copy("s.yaml", "r.yaml");
        lab.copy("s.yaml", "o.yaml");
        lab.rsops(&["unset", "r.yaml", path], &envs(&k)).ok();
        lab.sops(&["unset", "o.yaml", path], &envs(&k)).ok();
        assert_eq!(
            sops_plain(&lab, "r.yaml"),
            sops_plain(&lab, "o.yaml"),
            "{path}"
        );
    }
    for path in [r#"["zz"]"#, r#"["b"]["zz"]"#, r#"["b"]["d"][9]"#] {
        for tool in [Tool::Rsops, Tool::Sops] {
            lab.copy("s.yaml", "x.yaml");
            let missing = lab.run(tool, &["unset", "x.yaml", path], &envs(&k));
            assert_eq!(missing.code, 1, "{tool:?} unset {path}: {}", missing.stderr);
            lab.run(tool, &["unset", "--idempotent", "x.yaml", path], &envs(&k))
                .ok();
            assert_eq!(lab.read("x.yaml"), lab.read("s.yaml"), "{tool:?} {path}");
        }
    }
}

// ---------------------------------------------------------------- edit

/// An editor script that records the path it was given, then runs `action` on it.
fn editor(lab: &Lab, name: &str, action: &str) -> String {
    let log = lab.p(&format!("{name}.log"));
    lab.script(name, &format!("echo \"$1\" >> '{log}'\n{action}\n"))
}

fn edited_paths(lab: &Lab, name: &str) -> Vec<String> {
    std::fs::read_to_string(lab.path(&format!("{name}.log")))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn assert_temp_gone(lab: &Lab, name: &str) {
    let paths = edited_paths(lab, name);
    assert!(!paths.is_empty(), "the editor never ran");
    for p in paths {
        let p = std::path::Path::new(&p);
        assert!(!p.exists(), "{} is still there", p.display());
        assert!(
            !p.parent().unwrap().exists(),
            "its directory is still there"
        );
    }
}

#[test]
fn edit_one_value_changes_one_line() {
    let lab = sops_file();
    let ed = editor(&lab, "ed", r#"sed -i 's/hello/HELLO/' "$1""#);
    lab.copy("s.yaml", "e.yaml");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let k = [("SOPS_AGE_KEY_FILE", k1()), ("EDITOR", ed.clone())];
    lab.rsops(&["edit", "e.yaml"], &envs(&k)).ok();
    assert_eq!(
        sops_plain(&lab, "e.yaml"),
        sops_plain(&lab, "s.yaml").replace("hello", "HELLO")
    );
    let (before, after) = (lab.read_str("s.yaml"), lab.read_str("e.yaml"));
    let changed = changed_lines(&before, &after);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].1.trim_start().starts_with("c: ENC["));
    assert_ne!(
        line_of(&before, "lastmodified:"),
        line_of(&after, "lastmodified:")
    );
    assert_ne!(line_of(&before, "mac:"), line_of(&after, "mac:"));
    assert_temp_gone(&lab, "ed");
    // The bare-file form is edit too, and sops edits what rsops wrote.
    let ed2 = editor(&lab, "ed2", r#"sed -i 's/HELLO/again/' "$1""#);
    let k = [("SOPS_AGE_KEY_FILE", k1()), ("EDITOR", ed2)];
    lab.rsops(&["e.yaml"], &envs(&k)).ok();
    let ed3 = editor(&lab, "ed3", r#"sed -i 's/again/by sops/' "$1""#);
    let k = [("SOPS_AGE_KEY_FILE", k1()), ("EDITOR", ed3)];
    lab.sops(&["edit", "e.yaml"], &envs(&k)).ok();
    assert!(lab
        .decrypt_with(Tool::Rsops, "e.yaml", &k1())
        .ok()
        .text()
        .contains("c: by sops\n"));
}

#[test]
fn edit_of_other_formats_roundtrips_with_sops() {
    let lab = Lab::new();
    lab.write("p.json", "{\"a\": \"x\", \"n\": {\"m\": 1.5}}\n");
    lab.write("p.env", "A=x\nB=y\n");
    lab.write("p.ini", "[s]\na = x\n");
    for (plain, enc) in [("p.json", "e.json"), ("p.env", "e.env"), ("p.ini", "e.ini")] {
        lab.sops_encrypt_age(plain, enc, &age1());
        let ed = editor(&lab, &format!("ed-{enc}"), r#"sed -i 's/x/changed/' "$1""#);
        let k = [("SOPS_AGE_KEY_FILE", k1()), ("SOPS_EDITOR", ed)];
        lab.rsops(&["edit", enc], &envs(&k)).ok();
        let expected = lab
            .run(Tool::Sops, &["decrypt", enc], &envs(&with_k1()))
            .ok()
            .text();
        assert!(expected.contains("changed"), "{enc}: {expected}");
        assert_temp_gone(&lab, &format!("ed-{enc}"));
    }
}

#[test]
fn edit_without_change_exits_200_and_leaves_the_file() {
    let lab = sops_file();
    let before = lab.read("s.yaml");
    for tool in [Tool::Rsops, Tool::Sops] {
        let ed = editor(&lab, "noop", "true");
        let k = [("SOPS_AGE_KEY_FILE", k1()), ("EDITOR", ed)];
        let run = lab.run(tool, &["edit", "s.yaml"], &envs(&k));
        assert_eq!(run.code, 200, "{tool:?}: {}", run.stderr);
    }
    assert_eq!(lab.read("s.yaml"), before);
    assert_temp_gone(&lab, "noop");
}

#[test]
fn edit_invalid_then_fixed() {
    let lab = sops_file();
    for tool in [Tool::Rsops, Tool::Sops] {
        let name = format!("inv-{tool:?}");
        let flag = lab.p(&format!("{name}.flag"));
        let ed = editor(
            &lab,
            &name,
            &format!(
                "if [ ! -f '{flag}' ]; then touch '{flag}'; printf 'a: [unclosed\\n' > \"$1\"; \
                 else printf 'a: fixed\\nz: 2\\n' > \"$1\"; fi"
            ),
        );
        let file = format!("{name}.yaml");
        lab.copy("s.yaml", &file);
        let k = [("SOPS_AGE_KEY_FILE", k1()), ("EDITOR", ed)];
        lab.run_with(tool, &["edit", &file], &envs(&k), b"\n").ok();
        assert_eq!(sops_plain(&lab, &file), "a: fixed\nz: 2\n", "{tool:?}");
        assert_eq!(edited_paths(&lab, &name).len(), 2, "{tool:?} reopened once");
    }
    assert_temp_gone(&lab, "inv-Rsops");
}

/// `edit -s` shows the file with its metadata. On a multi-group JSON file sops writes the
/// empty key lists of each group as `null`; what the editor sees must be exactly what sops
/// shows, not the YAML spelling `[]`.
#[test]
fn edit_show_master_keys_shows_the_metadata_as_sops_does() {
    let lab = Lab::new();
    lab.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n",
            age1(),
            age2()
        ),
    );
    lab.write("p.json", "{\"a\": \"x\", \"n\": {\"m\": 1.5}}\n");
    let enc = lab.sops(&["encrypt", "p.json"], &[]).ok();
    lab.write("e.json", enc.stdout);
    let both = lab.age_keys("both.txt", &[&k1(), &k2()]);
    let mut shown = Vec::new();
    for tool in [Tool::Sops, Tool::Rsops] {
        let copy = lab.p(&format!("shown-{tool:?}.json"));
        let ed = lab.script(&format!("show-{tool:?}"), &format!("cp \"$1\" '{copy}'\n"));
        let k = [("SOPS_AGE_KEY_FILE", both.clone()), ("EDITOR", ed)];
        let run = lab.run(tool, &["edit", "-s", "e.json"], &envs(&k));
        assert_eq!(run.code, 200, "{tool:?}: {}", run.stderr);
        shown.push(std::fs::read_to_string(&copy).unwrap());
    }
    assert!(shown[0].contains("\"hc_vault\": null"), "{}", shown[0]);
    assert_eq!(
        shown[1], shown[0],
        "rsops edit -s differs from sops edit -s"
    );
}

#[test]
fn edit_invalid_and_no_answer_writes_nothing() {
    let lab = sops_file();
    let before = lab.read("s.yaml");
    let ed = editor(&lab, "bad", r#"printf 'a: [unclosed\n' > "$1""#);
    let k = [("SOPS_AGE_KEY_FILE", k1()), ("EDITOR", ed)];
    let run = lab.rsops(&["edit", "s.yaml"], &envs(&k));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("line 1"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("unclosed"),
        "errors never quote the text"
    );
    assert_eq!(lab.read("s.yaml"), before);
    assert_temp_gone(&lab, "bad");
}

#[test]
fn edit_creates_a_new_file_from_flags_and_from_the_config() {
    let lab = Lab::new();
    let ed = editor(&lab, "new", r#"printf 'new: value\nlist: [1, 2]\n' > "$1""#);
    let recipients = format!("{},{}", age1(), age2());
    lab.rsops(
        &["edit", "--age", &recipients, "n.yaml"],
        &[("EDITOR", &ed)],
    )
    .ok();
    let expected = "new: value\nlist:\n    - 1\n    - 2\n";
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "n.yaml", &k2()).ok().text(),
        expected
    );
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "n.yaml", &k1()).ok().text(),
        expected
    );
    assert_temp_gone(&lab, "new");

    lab.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.json$\n    age: {}\n",
            age2()
        ),
    );
    let ed = editor(&lab, "newj", r#"printf '{"k": "v"}' > "$1""#);
    lab.rsops(&["edit", "n.json"], &[("EDITOR", &ed)]).ok();
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "n.json", &k2()).ok().text(),
        "{\n\t\"k\": \"v\"\n}\n"
    );
    // Both tools offer an example document for a new file; left unchanged → 200, no file.
    for tool in [Tool::Rsops, Tool::Sops] {
        let noop = editor(&lab, "noop", "true");
        let run = lab.run(
            tool,
            &["edit", "--age", &age1(), "never.json"],
            &[("EDITOR", &noop)],
        );
        assert_eq!(run.code, 200, "{tool:?}: {}", run.stderr);
        assert!(!lab.path("never.json").exists());
    }
}

#[test]
fn edit_removes_the_temp_file_on_sigterm() {
    let lab = sops_file();
    let before = lab.read("s.yaml");
    let ed = editor(&lab, "slow", "sleep 3");
    let mut child = lab
        .command(Tool::Rsops)
        .args(["edit", "s.yaml"])
        .env("SOPS_AGE_KEY_FILE", k1())
        .env("EDITOR", &ed)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while edited_paths(&lab, "slow").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the editor never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let temp = edited_paths(&lab, "slow")[0].clone();
    assert!(std::path::Path::new(&temp).exists());
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert_temp_gone(&lab, "slow");
    assert_eq!(lab.read("s.yaml"), before);
}

// ---------------------------------------------------------------- rotate

/// The armored `enc:` blocks of the age stanzas.
fn stanzas(text: &str) -> Vec<String> {
    text.split("-----BEGIN AGE ENCRYPTED FILE-----")
        .skip(1)
        .map(|s| s.split("-----END").next().unwrap().to_string())
        .collect()
}

#[test]
fn rotate_adds_and_removes_keys_with_a_new_data_key() {
    let lab = sops_file();
    let k = with_k1();
    let before = lab.read_str("s.yaml");
    // To stdout first: the file stays as it was.
    let out = lab.rsops(&["rotate", "s.yaml"], &envs(&k)).ok();
    assert_eq!(lab.read_str("s.yaml"), before);
    lab.write("stdout.yaml", &out.stdout);
    assert_eq!(sops_plain(&lab, "stdout.yaml"), sops_plain(&lab, "s.yaml"));

    lab.copy("s.yaml", "r.yaml");
    lab.rsops(&["rotate", "-i", "--add-age", &age2(), "r.yaml"], &envs(&k))
        .ok();
    let after = lab.read_str("r.yaml");
    // New data key: every payload changes, IVs are kept (as sops does; the MAC's is new),
    // stanzas are new.
    let (iv0, iv1) = (ivs(&before), ivs(&after));
    assert_eq!(iv0[..iv0.len() - 1], iv1[..iv1.len() - 1]);
    assert_ne!(iv0.last(), iv1.last());
    assert_ne!(stanzas(&before), stanzas(&after));
    let (p0, p1) = (payloads(&before), payloads(&after));
    assert!(
        p0.iter().zip(&p1).all(|(a, b)| a != b),
        "every value re-encrypted"
    );
    assert_ne!(line_of(&before, "mac:"), line_of(&after, "mac:"));
    let plain = sops_plain(&lab, "s.yaml");
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "r.yaml", &k2()).ok().text(),
        plain
    );
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "r.yaml", &k1()).ok().text(),
        plain
    );

    lab.rsops(&["rotate", "-i", "--rm-age", &age1(), "r.yaml"], &envs(&k))
        .ok();
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "r.yaml", &k2()).ok().text(),
        plain
    );
    assert_eq!(lab.decrypt_with(Tool::Sops, "r.yaml", &k1()).code, 128);
    assert_eq!(lab.decrypt_with(Tool::Rsops, "r.yaml", &k1()).code, 128);

    // Legacy -r is rotate too; sops rotates what rsops rotated.
    lab.rsops(
        &["-r", "-i", "--add-age", &age1(), "r.yaml"],
        &[("SOPS_AGE_KEY_FILE", &k2())],
    )
    .ok();
    lab.sops(&["rotate", "-i", "--rm-age", &age2(), "r.yaml"], &envs(&k))
        .ok();
    assert_eq!(
        lab.decrypt_with(Tool::Rsops, "r.yaml", &k1()).ok().text(),
        plain
    );
    assert_eq!(lab.decrypt_with(Tool::Rsops, "r.yaml", &k2()).code, 128);
}

/// A throwaway GnuPG home in the lab; its gpg-agent is stopped on drop, also when a test fails.
struct GpgHome(String);

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = std::process::Command::new("gpgconf")
            .env("GNUPGHOME", &self.0)
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

/// A GnuPG home in the lab holding exactly the named test keys (secret and public).
fn gnupg_home(lab: &Lab, name: &str, keys: &[&str]) -> GpgHome {
    use std::os::unix::fs::PermissionsExt;
    let home = lab.path(name);
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    for key in keys {
        let out = std::process::Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--import", &key_file(key)])
            .output()
            .expect("gpg is installed");
        assert!(out.status.success(), "gpg --import {key} failed");
    }
    GpgHome(home.to_str().unwrap().to_string())
}

/// `rotate --add-pgp/--rm-pgp` through GnuPG homes: the real sops opens the result with the added
/// key alone, and a removed key is gone from the stanzas and opens nothing.
#[test]
fn rotate_adds_and_removes_pgp_keys_sops_reads_the_result() {
    use common::PGP_ED25519_FP;
    let lab = sops_file();
    let homes = [
        gnupg_home(&lab, "g-rsa", &["pgp_rsa.sec.asc"]),
        gnupg_home(&lab, "g-ed", &["pgp_ed25519.sec.asc"]),
        gnupg_home(&lab, "g-both", &["pgp_rsa.sec.asc", "pgp_ed25519.sec.asc"]),
    ];
    let [rsa, ed, both] = homes.each_ref().map(|h| h.0.clone());
    let plain = sops_plain(&lab, "s.yaml");
    let only_gpg = |home: &str| [("GNUPGHOME", home.to_string())];
    let decrypt =
        |tool: Tool, home: &str| lab.run(tool, &["decrypt", "s.yaml"], &envs(&only_gpg(home)));

    let k = [("SOPS_AGE_KEY_FILE", k1()), ("GNUPGHOME", both.clone())];
    lab.rsops(
        &["rotate", "-i", "--add-pgp", PGP_RSA_FP, "s.yaml"],
        &envs(&k),
    )
    .ok();
    assert!(lab.read_str("s.yaml").contains(PGP_RSA_FP));
    assert_eq!(
        decrypt(Tool::Sops, &rsa).ok().text(),
        plain,
        "sops, RSA key alone"
    );

    lab.rsops(
        &[
            "rotate",
            "-i",
            "--add-pgp",
            PGP_ED25519_FP,
            "--rm-pgp",
            PGP_RSA_FP,
            "--rm-age",
            &age1(),
            "s.yaml",
        ],
        &envs(&k),
    )
    .ok();
    let text = lab.read_str("s.yaml");
    assert!(
        !text.contains(PGP_RSA_FP),
        "the removed key is still listed:\n{text}"
    );
    assert!(
        !text.contains(&age1()),
        "the removed age key is still listed:\n{text}"
    );
    assert!(text.contains(PGP_ED25519_FP));
    for tool in [Tool::Sops, Tool::Rsops] {
        assert_eq!(
            decrypt(tool, &ed).ok().text(),
            plain,
            "{tool:?}, ed25519 key alone"
        );
        let refused = decrypt(tool, &rsa);
        assert_eq!(refused.code, 128, "{tool:?} opened it with the removed key");
        assert!(refused.stdout.is_empty());
    }
    // The other way round: sops rotates, rsops reads what sops wrote.
    lab.sops(
        &["rotate", "-i", "--add-pgp", PGP_RSA_FP, "s.yaml"],
        &envs(&only_gpg(&both)),
    )
    .ok();
    assert_eq!(
        decrypt(Tool::Rsops, &rsa).ok().text(),
        plain,
        "rsops after sops"
    );
}

#[test]
fn rotate_keeps_shamir_groups() {
    let lab = Lab::new();
    lab.write("p.yaml", "x: 1\n");
    two_group_rule(&lab);
    let both = lab.age_keys("k12.txt", &[&k1(), &k2()]);
    let enc = lab
        .sops(
            &["encrypt", "--filename-override", "two.yaml", "p.yaml"],
            &[],
        )
        .ok();
    lab.write("two.yaml", enc.stdout);
    lab.rsops(
        &["rotate", "-i", "two.yaml"],
        &[("SOPS_AGE_KEY_FILE", &both)],
    )
    .ok();
    assert!(lab.read_str("two.yaml").contains("shamir_threshold: 2"));
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "two.yaml", &both).ok().text(),
        "x: 1\n"
    );
    assert_eq!(lab.decrypt_with(Tool::Sops, "two.yaml", &k1()).code, 128);
}

// ---------------------------------------------------------------- updatekeys

fn rule_for(lab: &Lab, recipients: &str) {
    lab.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {recipients}\n"),
    );
}

#[test]
fn updatekeys_rewraps_without_touching_values() {
    let lab = Lab::new();
    lab.write("p.yaml", PLAIN);
    rule_for(&lab, &age1());
    let enc = lab.sops(&["encrypt", "p.yaml"], &[]).ok();
    lab.write("a.yaml", &enc.stdout);
    lab.write("dir/sub/b.yaml", &enc.stdout);
    lab.write("dir/c.yaml", &enc.stdout);
    lab.write("dir/plain.yaml", "not: encrypted\n");
    rule_for(&lab, &format!("{},{}", age1(), age2()));
    let before = lab.read_str("a.yaml");

    // Declined at the prompt: untouched.
    let run = lab.run_with(
        Tool::Rsops,
        &["updatekeys", "a.yaml"],
        &envs(&with_k1()),
        b"n\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.text().contains(&age2()), "the change is shown");
    assert_eq!(lab.read_str("a.yaml"), before);

    lab.rsops(&["updatekeys", "-y", "a.yaml"], &envs(&with_k1()))
        .ok();
    let after = lab.read_str("a.yaml");
    let sops_section = |t: &str| t.find("sops:").unwrap();
    assert_eq!(
        before[..sops_section(&before)],
        after[..sops_section(&after)]
    );
    for prefix in ["lastmodified:", "mac:", "version:"] {
        assert_eq!(line_of(&before, prefix), line_of(&after, prefix));
    }
    let plain = sops_plain(&lab, "a.yaml");
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "a.yaml", &k2()).ok().text(),
        plain
    );

    // Already up to date: nothing written.
    lab.rsops(&["updatekeys", "-y", "a.yaml"], &envs(&with_k1()))
        .ok();
    assert_eq!(lab.read_str("a.yaml"), after);

    // A directory needs -r; then every encrypted file below it is updated.
    assert_ne!(
        lab.rsops(&["updatekeys", "-y", "dir"], &envs(&with_k1()))
            .code,
        0
    );
    lab.rsops(&["updatekeys", "-y", "-r", "dir"], &envs(&with_k1()))
        .ok();
    for f in ["dir/sub/b.yaml", "dir/c.yaml"] {
        assert_eq!(
            lab.decrypt_with(Tool::Sops, f, &k2()).ok().text(),
            plain,
            "{f}"
        );
    }
    assert_eq!(lab.read_str("dir/plain.yaml"), "not: encrypted\n");

    // sops updates what rsops wrote.
    rule_for(&lab, &age2());
    lab.sops(&["updatekeys", "-y", "a.yaml"], &envs(&with_k1()))
        .ok();
    assert_eq!(
        lab.decrypt_with(Tool::Rsops, "a.yaml", &k2()).ok().text(),
        plain
    );
    assert_eq!(lab.decrypt_with(Tool::Rsops, "a.yaml", &k1()).code, 128);
}

#[test]
fn updatekeys_to_key_groups_writes_a_shamir_file_sops_reads() {
    let lab = Lab::new();
    lab.write("p.yaml", "x: 1\n");
    rule_for(&lab, &age1());
    let enc = lab.sops(&["encrypt", "p.yaml"], &[]).ok();
    lab.write("two.yaml", enc.stdout);
    two_group_rule(&lab);
    lab.rsops(&["updatekeys", "-y", "two.yaml"], &envs(&with_k1()))
        .ok();
    let both = lab.age_keys("k12.txt", &[&k1(), &k2()]);
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "two.yaml", &both).ok().text(),
        "x: 1\n"
    );
    assert_eq!(lab.decrypt_with(Tool::Sops, "two.yaml", &k1()).code, 128);
}

// ---------------------------------------------------------------- Shamir key groups

fn two_group_rule(lab: &Lab) {
    lab.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: two\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n",
            age1(),
            age2()
        ),
    );
}

#[test]
fn shamir_two_groups_both_directions() {
    let lab = Lab::new();
    lab.write("p.yaml", "x: 1\ny: secret\n");
    two_group_rule(&lab);
    let theirs = lab
        .sops(
            &["encrypt", "--filename-override", "two.yaml", "p.yaml"],
            &[],
        )
        .ok();
    lab.write("two.yaml", theirs.stdout);
    let ours = lab
        .rsops(
            &["encrypt", "--filename-override", "two.yaml", "p.yaml"],
            &[],
        )
        .ok();
    lab.write("two-r.yaml", ours.stdout);
    let both = lab.age_keys("k12.txt", &[&k1(), &k2()]);
    for file in ["two.yaml", "two-r.yaml"] {
        assert!(lab.read_str(file).contains("shamir_threshold: 2"));
        for tool in [Tool::Rsops, Tool::Sops] {
            let run = lab.decrypt_with(tool, file, &both).ok();
            assert_eq!(run.text(), "x: 1\n\"y\": secret\n", "{tool:?} {file}");
            for one in [k1(), k2()] {
                let run = lab.decrypt_with(tool, file, &one);
                assert_eq!(
                    run.code, 128,
                    "{tool:?} {file} with one group: {}",
                    run.stderr
                );
            }
        }
    }
}

#[test]
fn shamir_three_groups_threshold_two_with_pgp() {
    let mut lab = Lab::new();
    lab.with_gnupg();
    lab.write("p.yaml", "x: 1\ny: secret\n");
    lab.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - pgp: [{PGP_RSA_FP}]\n",
            age1(),
            age2()
        ),
    );
    let theirs = lab.sops(&["encrypt", "p.yaml"], &[]).ok();
    lab.write("three.yaml", theirs.stdout);
    let ours = lab.rsops(&["encrypt", "p.yaml"], &[]).ok();
    lab.write("three-r.yaml", ours.stdout);
    let both = lab.age_keys("k12.txt", &[&k1(), &k2()]);
    let none = lab.age_keys("empty.txt", &[]);
    let gnupg = lab.p("gnupg");
    let empty_gnupg = lab.p("empty-gnupg");
    std::fs::create_dir(&empty_gnupg).unwrap();
    for file in ["three.yaml", "three-r.yaml"] {
        assert!(lab.read_str(file).contains("shamir_threshold: 2"));
        for tool in [Tool::Rsops, Tool::Sops] {
            // Any two of the three groups are enough.
            for (age_keys, home) in [(&both, &empty_gnupg), (&k1(), &gnupg), (&k2(), &gnupg)] {
                let run = lab.run(
                    tool,
                    &["decrypt", file],
                    &[("SOPS_AGE_KEY_FILE", age_keys), ("GNUPGHOME", home)],
                );
                assert_eq!(
                    run.code, 0,
                    "{tool:?} {file} {age_keys} {home}: {}",
                    run.stderr
                );
                assert_eq!(run.text(), "x: 1\n\"y\": secret\n");
            }
            // One group is not.
            for (age_keys, home) in [
                (&k1(), &empty_gnupg),
                (&k2(), &empty_gnupg),
                (&none, &gnupg),
            ] {
                let run = lab.run(
                    tool,
                    &["decrypt", file],
                    &[("SOPS_AGE_KEY_FILE", age_keys), ("GNUPGHOME", home)],
                );
                assert_eq!(
                    run.code, 128,
                    "{tool:?} {file} {age_keys} {home}: {}",
                    run.stderr
                );
            }
        }
    }
}

#[test]
fn shamir_threshold_flag_and_three_age_groups() {
    let lab = Lab::new();
    let (k3, a3) = lab.age_keygen("age3.txt");
    lab.write("p.yaml", "x: 1\n");
    lab.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{a3}]\n",
            age1(),
            age2()
        ),
    );
    for tool in [Tool::Rsops, Tool::Sops] {
        let out = lab
            .run(
                tool,
                &[
                    "encrypt",
                    "--shamir-secret-sharing-threshold",
                    "2",
                    "p.yaml",
                ],
                &[],
            )
            .ok();
        let file = format!("t-{tool:?}.yaml");
        lab.write(&file, out.stdout);
        assert!(
            lab.read_str(&file).contains("shamir_threshold: 2"),
            "{tool:?}"
        );
    }
    let k13 = lab.age_keys("k13.txt", &[&k1(), &k3]);
    let k23 = lab.age_keys("k23.txt", &[&k2(), &k3]);
    for file in ["t-Rsops.yaml", "t-Sops.yaml"] {
        for tool in [Tool::Rsops, Tool::Sops] {
            for keys in [&k13, &k23] {
                assert_eq!(lab.decrypt_with(tool, file, keys).ok().text(), "x: 1\n");
            }
            assert_eq!(
                lab.decrypt_with(tool, file, &k3).code,
                128,
                "{tool:?} {file}"
            );
        }
    }
}

// ---------------------------------------------------------------- groups add / delete

#[test]
fn groups_add_and_delete() {
    let lab = Lab::new();
    let (k3, a3) = lab.age_keygen("age3.txt");
    lab.write("p.yaml", "x: 1\n");
    two_group_rule(&lab);
    let enc = lab
        .sops(
            &["encrypt", "--filename-override", "two.yaml", "p.yaml"],
            &[],
        )
        .ok();
    lab.write("g.yaml", enc.stdout);
    let k12 = lab.age_keys("k12.txt", &[&k1(), &k2()]);
    let k13 = lab.age_keys("k13.txt", &[&k1(), &k3]);
    let k23 = lab.age_keys("k23.txt", &[&k2(), &k3]);
    let with = |keys: &str| vec![("SOPS_AGE_KEY_FILE", keys.to_string())];

    // Without -i the result goes to stdout and the file stays.
    let before = lab.read("g.yaml");
    let out = lab
        .rsops(
            &["groups", "add", "--file", "g.yaml", "--age", &a3],
            &envs(&with(&k12)),
        )
        .ok();
    assert_eq!(lab.read("g.yaml"), before);
    assert!(out.text().contains(&a3));

    lab.rsops(
        &["groups", "add", "-i", "--file", "g.yaml", "--age", &a3],
        &envs(&with(&k12)),
    )
    .ok();
    let text = lab.read_str("g.yaml");
    assert!(text.contains("shamir_threshold: 2") && text.contains(&a3));
    for keys in [&k12, &k13, &k23] {
        assert_eq!(
            lab.decrypt_with(Tool::Sops, "g.yaml", keys).ok().text(),
            "x: 1\n"
        );
    }
    assert_eq!(lab.decrypt_with(Tool::Sops, "g.yaml", &k3).code, 128);

    lab.rsops(
        &["groups", "delete", "-i", "--file", "g.yaml", "0"],
        &envs(&with(&k12)),
    )
    .ok();
    assert!(!lab.read_str("g.yaml").contains(&age1()));
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "g.yaml", &k23).ok().text(),
        "x: 1\n"
    );
    assert_eq!(lab.decrypt_with(Tool::Sops, "g.yaml", &k13).code, 128);

    // Deleting below the threshold fails like sops; lowering it makes it possible.
    let before = lab.read("g.yaml");
    for tool in [Tool::Rsops, Tool::Sops] {
        let run = lab.run(
            tool,
            &["groups", "delete", "-i", "--file", "g.yaml", "0"],
            &envs(&with(&k23)),
        );
        assert_eq!(run.code, 1, "{tool:?}: {}", run.stderr);
        assert_eq!(lab.read("g.yaml"), before);
    }
    lab.rsops(
        &[
            "groups",
            "delete",
            "-i",
            "--shamir-secret-sharing-threshold",
            "1",
            "--file",
            "g.yaml",
            "0",
        ],
        &envs(&with(&k23)),
    )
    .ok();
    assert_eq!(
        lab.decrypt_with(Tool::Sops, "g.yaml", &k3).ok().text(),
        "x: 1\n"
    );

    // sops's groups commands work on what rsops wrote, and the reverse.
    lab.sops(
        &["groups", "add", "-i", "--file", "g.yaml", "--age", &age1()],
        &envs(&with(&k3)),
    )
    .ok();
    assert_eq!(
        lab.decrypt_with(Tool::Rsops, "g.yaml", &k13).ok().text(),
        "x: 1\n"
    );
}

// ---------------------------------------------------------------- SSH keys as age recipients

/// ssh-ed25519 and ssh-rsa recipients through the command line, both ways with the real sops:
/// the private key from `SOPS_AGE_SSH_PRIVATE_KEY_FILE` and from `~/.ssh/id_*`; the other SSH
/// key opens nothing.
#[test]
fn ssh_age_keys_both_ways_with_sops() {
    let lab = Lab::new();
    lab.write("plain.yaml", PLAIN);
    let plain = lab
        .sops(&["encrypt", "--age", &age1(), "plain.yaml"], &[])
        .ok();
    lab.write("age.yaml", plain.stdout);
    let expected = sops_plain(&lab, "age.yaml");
    let ssh_dir = lab.path("home/.ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    for (name, other, default_name) in [
        ("ssh_ed25519", "ssh_rsa", "id_ed25519"),
        ("ssh_rsa", "ssh_ed25519", "id_rsa"),
    ] {
        let public = std::fs::read_to_string(key_file(&format!("{name}.pub"))).unwrap();
        let public = public.trim();
        let by_file = [("SOPS_AGE_SSH_PRIVATE_KEY_FILE", key_file(name))];
        let wrong = [("SOPS_AGE_SSH_PRIVATE_KEY_FILE", key_file(other))];
        for (writer, reader) in [(Tool::Rsops, Tool::Sops), (Tool::Sops, Tool::Rsops)] {
            let file = format!("{name}-{writer:?}.yaml");
            let enc = lab
                .run(writer, &["encrypt", "--age", public, "plain.yaml"], &[])
                .ok();
            let text = String::from_utf8(enc.stdout).unwrap();
            assert!(text.contains(public), "{writer:?}: recipient not recorded");
            lab.write(&file, text);
            let run = lab.run(reader, &["decrypt", &file], &envs(&by_file)).ok();
            assert_eq!(run.text(), expected, "{writer:?} → {reader:?} ({name})");
            let refused = lab.run(reader, &["decrypt", &file], &envs(&wrong));
            assert_eq!(refused.code, 128, "{reader:?} opened {name} with {other}");

            std::fs::copy(key_file(name), ssh_dir.join(default_name)).unwrap();
            let run = lab.run(reader, &["decrypt", &file], &[]).ok();
            assert_eq!(
                run.text(),
                expected,
                "{reader:?} with ~/.ssh/{default_name}"
            );
            std::fs::remove_file(ssh_dir.join(default_name)).unwrap();
        }
    }
}

// ---------------------------------------------------------------- exec-env / exec-file

fn env_file(lab: &Lab) {
    lab.write("env.yaml", "FOO: bar baz\nNUM: 5\nF: 1.5\nB: true\n");
    lab.sops_encrypt_age("env.yaml", "env.enc.yaml", &age1());
}

#[test]
fn exec_env_matches_sops() {
    let lab = Lab::new();
    env_file(&lab);
    let k = [
        ("SOPS_AGE_KEY_FILE", k1()),
        ("KEEP_ME", "outer".to_string()),
    ];
    for command in [
        "echo \"$FOO|$NUM|$F|$B|$KEEP_ME\"",
        "echo \"$FOO\"; exit 7",
        "exit 0",
    ] {
        let ours = lab.rsops(&["exec-env", "env.enc.yaml", command], &envs(&k));
        let theirs = lab.sops(&["exec-env", "env.enc.yaml", command], &envs(&k));
        assert_eq!(ours.code, theirs.code, "{command}");
        assert_eq!(ours.stdout, theirs.stdout, "{command}");
    }
    let ours = lab.rsops(&["exec-env", "env.enc.yaml", "echo $FOO"], &envs(&k));
    assert_eq!(ours.text(), "bar baz\n");
    let pristine = ["exec-env", "--pristine", "env.enc.yaml", "env | sort"];
    let ours = lab.rsops(&pristine, &envs(&k)).ok();
    let theirs = lab.sops(&pristine, &envs(&k)).ok();
    assert_eq!(ours.text(), theirs.text());
    assert!(!ours.text().contains("KEEP_ME") && ours.text().contains("FOO=bar baz"));
    // --same-process replaces rsops with the command.
    let same = lab.rsops(
        &[
            "exec-env",
            "--same-process",
            "env.enc.yaml",
            "echo $NUM; exit 9",
        ],
        &envs(&k),
    );
    assert_eq!((same.code, same.text().as_str()), (9, "5\n"));
}

/// `exec-env --user`: as root (how the tests run in CI) the command runs as `nobody` with the
/// file's values, as under sops 3.11 (uid, gid, name, values compared; the group list and HOME
/// are sops 3.12+'s and checked against the upstream source in `exec_user_*`). Not as root,
/// switching must fail as sops's does.
#[test]
fn exec_env_user_matches_sops() {
    let lab = Lab::new();
    env_file(&lab);
    let k = [("SOPS_AGE_KEY_FILE", k1())];
    let command = "id -un; id -u; id -g; echo \"$FOO|$NUM\"";
    let args = ["exec-env", "--user", "nobody", "env.enc.yaml", command];
    let ours = lab.rsops(&args, &envs(&k));
    let theirs = lab.sops(&args, &envs(&k));
    if rustix::process::geteuid().is_root() {
        let nobody = "nobody\n65534\n65534\nbar baz|5\n";
        assert_eq!(
            (ours.code, ours.text().as_str()),
            (0, nobody),
            "{}",
            ours.stderr
        );
        assert_eq!(
            (theirs.code, theirs.text().as_str()),
            (0, nobody),
            "sops: {}",
            theirs.stderr
        );
    } else {
        eprintln!("not root: only the refusal of --user is checked");
        assert_ne!(theirs.code, 0, "sops switched user without root");
        assert_eq!(ours.code, theirs.code, "{}", ours.stderr);
        assert!(ours.stdout.is_empty());
    }
    // A user that does not exist: both refuse before running anything.
    let args = [
        "exec-env",
        "--user",
        "no-such-user-rsops",
        "env.enc.yaml",
        "echo ran",
    ];
    let (ours, theirs) = (lab.rsops(&args, &envs(&k)), lab.sops(&args, &envs(&k)));
    assert_eq!(
        (ours.code, ours.stdout.is_empty()),
        (theirs.code, true),
        "{}",
        ours.stderr
    );
}

#[test]
fn exec_file_fifo_and_temp_file() {
    let lab = Lab::new();
    env_file(&lab);
    let k1 = with_k1();
    let k = envs(&k1);
    let plain = sops_plain(&lab, "env.enc.yaml");
    for tool in [Tool::Rsops, Tool::Sops] {
        let run = lab
            .run(tool, &["exec-file", "env.enc.yaml", "cat {}"], &k)
            .ok();
        assert_eq!(run.text(), plain, "{tool:?}");
        let run = lab.run(
            tool,
            &["exec-file", "env.enc.yaml", "cat {} >/dev/null; exit 5"],
            &k,
        );
        assert_eq!(run.code, 5, "{tool:?}");
    }
    // A FIFO by default, a 0600 file with --no-fifo; gone afterwards either way.
    let probe = "test -p {} && echo fifo; test -f {} && stat -c %a {}; echo {}; cat {} >/dev/null";
    for (flags, kind) in [(vec![], "fifo"), (vec!["--no-fifo"], "600")] {
        let mut args = vec!["exec-file"];
        args.extend(flags);
        args.extend(["env.enc.yaml", probe]);
        let out = lab.rsops(&args, &k).ok().text();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], kind);
        assert!(
            lines[1].ends_with("/tmp-file"),
            "sops's default name: {}",
            lines[1]
        );
        assert!(!std::path::Path::new(lines[1]).exists());
        assert!(!std::path::Path::new(lines[1]).parent().unwrap().exists());
    }
    let out = lab
        .rsops(
            &[
                "exec-file",
                "--filename",
                "x.yaml",
                "--output-type",
                "json",
                "env.enc.yaml",
                "echo {}; cat {}",
            ],
            &k,
        )
        .ok()
        .text();
    assert!(out.starts_with('/') && out.lines().next().unwrap().ends_with("/x.yaml"));
    assert!(out.contains("\"FOO\": \"bar baz\""), "{out}");
}

#[test]
fn exec_file_child_that_never_reads_does_not_hang() {
    let lab = Lab::new();
    env_file(&lab);
    let start = std::time::Instant::now();
    let mut child = lab
        .command(Tool::Rsops)
        .args(["exec-file", "env.enc.yaml", "echo {}; sleep 0.2; exit 4"])
        .env("SOPS_AGE_KEY_FILE", k1())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("rsops hangs on a FIFO nobody reads");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(4));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(!std::path::Path::new(out.trim()).exists());
}

#[test]
fn exec_file_child_killed_by_a_signal() {
    let lab = Lab::new();
    env_file(&lab);
    let run = lab.rsops(
        &["exec-file", "env.enc.yaml", "echo {}; kill -TERM $$"],
        &envs(&with_k1()),
    );
    assert_eq!(run.code, 128 + 15);
    assert!(!std::path::Path::new(run.text().trim()).exists());
}

// ---------------------------------------------------------------- decryption order

#[test]
fn decryption_order_flag_and_env() {
    let mut lab = Lab::new();
    lab.with_gnupg();
    lab.write("p.yaml", "x: 1\n");
    let both = lab
        .sops(
            &["encrypt", "--age", &age1(), "--pgp", PGP_RSA_FP, "p.yaml"],
            &[],
        )
        .ok();
    lab.write("both.yaml", both.stdout);
    let k = with_k1();
    for order in [
        "age,age",
        "pgp,age,pgp",
        "age,pgp",
        "pgp",
        "pgp,age",
        "unknown",
    ] {
        for tool in [Tool::Rsops, Tool::Sops] {
            let flag = lab.run(
                tool,
                &["decrypt", "--decryption-order", order, "both.yaml"],
                &envs(&k),
            );
            let mut env = envs(&k);
            env.push(("SOPS_DECRYPTION_ORDER", order));
            let from_env = lab.run(tool, &["decrypt", "both.yaml"], &env);
            let expected = if order.matches("age").count() > 1 || order.matches("pgp").count() > 1 {
                112
            } else {
                0
            };
            assert_eq!(
                flag.code, expected,
                "{tool:?} --decryption-order {order}: {}",
                flag.stderr
            );
            assert_eq!(
                from_env.code, expected,
                "{tool:?} SOPS_DECRYPTION_ORDER={order}"
            );
            if expected == 0 {
                assert_eq!(flag.text(), "x: 1\n");
            }
        }
    }
    // The other decrypting commands take it too.
    let run = lab.rsops(
        &[
            "exec-env",
            "--decryption-order",
            "age,age",
            "both.yaml",
            "true",
        ],
        &envs(&k),
    );
    assert_eq!(run.code, 112);
}

// ---------------------------------------------------------------- more parity

#[test]
fn missing_file_exit_codes_match_sops() {
    let lab = Lab::new();
    let k = with_k1();
    for args in [
        vec!["set", "nope.yaml", r#"["a"]"#, "1"],
        vec!["unset", "nope.yaml", r#"["a"]"#],
        vec!["rotate", "nope.yaml"],
        vec!["-r", "nope.yaml"],
        vec!["decrypt", "nope.yaml"],
        vec!["updatekeys", "-y", "nope.yaml"],
        vec!["exec-env", "nope.yaml", "true"],
        vec!["exec-file", "nope.yaml", "true"],
        vec!["groups", "delete", "--file", "nope.yaml", "0"],
    ] {
        let ours = lab.rsops(&args, &envs(&k));
        let theirs = lab.sops(&args, &envs(&k));
        assert_ne!(ours.code, 0, "{args:?}");
        assert_eq!(ours.code, theirs.code, "{args:?}: {}", ours.stderr);
    }
}

#[test]
fn edit_with_master_keys_shown() {
    let lab = sops_file();
    let ed = editor(
        &lab,
        "meta",
        r#"grep -q '^sops:' "$1" || exit 3
sed -i 's/hello/HI/; s/unencrypted_suffix: _unencrypted/unencrypted_suffix: _plain/' "$1""#,
    );
    lab.copy("s.yaml", "m.yaml");
    let k = [("SOPS_AGE_KEY_FILE", k1()), ("EDITOR", ed)];
    lab.rsops(&["edit", "--show-master-keys", "m.yaml"], &envs(&k))
        .ok();
    // Both the value and the metadata edit land (sops 3.11 drops both: its editor loop replaces
    // a local copy of the tree), and sops reads the result.
    assert!(lab
        .read_str("m.yaml")
        .contains("unencrypted_suffix: _plain"));
    assert!(sops_plain(&lab, "m.yaml").contains("c: HI\n"));
    assert_temp_gone(&lab, "meta");
}

#[test]
fn set_and_unset_on_files_rsops_wrote() {
    let lab = Lab::new();
    lab.write("plain.yaml", PLAIN);
    let out = lab
        .rsops(&["encrypt", "--age", &age1(), "plain.yaml"], &[])
        .ok();
    lab.write("r.yaml", &out.stdout);
    lab.write("o.yaml", &out.stdout);
    let k = with_k1();
    for (tool, file) in [(Tool::Rsops, "r.yaml"), (Tool::Sops, "o.yaml")] {
        lab.run(tool, &["set", file, r#"["b"]["c"]"#, r#""new""#], &envs(&k))
            .ok();
        lab.run(tool, &["unset", file, r#"["t"]"#], &envs(&k)).ok();
    }
    let expected = sops_plain(&lab, "o.yaml");
    assert!(expected.contains("c: new") && !expected.contains("t: true"));
    assert_eq!(sops_plain(&lab, "r.yaml"), expected);
    assert_eq!(
        lab.decrypt_with(Tool::Rsops, "o.yaml", &k1()).ok().text(),
        expected
    );
}

#[test]
fn exec_env_refuses_nested_values_like_sops() {
    let lab = sops_file();
    let mut codes = Vec::new();
    for tool in [Tool::Rsops, Tool::Sops] {
        let run = lab.run(tool, &["exec-env", "s.yaml", "echo ran"], &envs(&with_k1()));
        assert_ne!(run.code, 0, "{tool:?}");
        assert!(!run.text().contains("ran"), "{tool:?}");
        codes.push(run.code);
    }
    assert_eq!(codes[0], codes[1], "exit code of rsops, then sops");
}

#[test]
fn editor_command_is_split_like_a_shell_and_sops_editor_wins() {
    let lab = sops_file();
    lab.copy("s.yaml", "x.yaml");
    let k = [
        ("SOPS_AGE_KEY_FILE", k1()),
        ("SOPS_EDITOR", "sed -i 's/hello/two words/'".to_string()),
        ("EDITOR", "false".to_string()),
    ];
    lab.rsops(&["edit", "x.yaml"], &envs(&k)).ok();
    assert!(sops_plain(&lab, "x.yaml").contains("c: two words\n"));
}

/// `-v` prints the version and exits 0, as sops's `-v` does (scripts probe tools that way).
#[test]
fn version_flag_like_sops() {
    let lab = Lab::new();
    for tool in [Tool::Sops, Tool::Rsops] {
        for flag in ["-v", "--version"] {
            let run = lab.run(tool, &[flag], &[]);
            assert_eq!(run.code, 0, "{tool:?} {flag}: {}", run.stderr);
            assert!(
                run.text().contains(" 3.") || run.text().starts_with("rsops "),
                "{tool:?} {flag}: {}",
                run.text()
            );
        }
    }
}
