//! What a newcomer meets first: errors that name the real problem, help, typos, progress and
//! colour.

mod common;

use common::{rsops, Key, Outcome, Sandbox, Tool};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A GnuPG home of the test's own, its agent stopped at the end.
struct GnupgHome {
    dir: tempfile::TempDir,
}

impl GnupgHome {
    fn new() -> GnupgHome {
        // Short path: the agent's socket must stay under ~100 bytes.
        let dir = tempfile::Builder::new()
            .prefix("rg")
            .tempdir_in("/tmp")
            .expect("temp dir");
        GnupgHome { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn gpg(&self, args: &[&str]) -> String {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(self.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run gpg");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("gpg output is text")
    }

    fn fingerprint(&self, user: &str) -> String {
        let listing = self.gpg(&["--list-keys", "--with-colons", user]);
        let line = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .expect("fpr");
        line.split(':')
            .nth(9)
            .expect("fingerprint field")
            .to_string()
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.path())
            .args(["--kill", "gpg-agent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn a_sign_only_gpg_key_is_named_as_such_not_as_missing() {
    let home = GnupgHome::new();
    // The command the README once gave: an RSA key for signing and certifying only.
    home.gpg(&[
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        "me <me@example.org>",
        "rsa3072",
    ]);
    let fpr = home.fingerprint("me@example.org");
    let sandbox = Sandbox::new(&[]);
    sandbox.put("s.yaml", b"a: b\n");
    let gnupghome = [("GNUPGHOME", home.path().to_str().expect("utf-8 path"))];
    let args = ["encrypt", "--pgp", &fpr, "s.yaml"];
    let out = sandbox.run_in(&rsops(), &sandbox.work(), &args, &gnupghome);
    let theirs = sandbox.run_in(&common::sops(), &sandbox.work(), &args, &gnupghome);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!theirs.ok(), "sops encrypted: {}", theirs.summary());
    assert!(
        out.code == theirs.code && out.stdout.is_empty(),
        "{} (sops: exit {})",
        out.summary(),
        theirs.code
    );
    assert!(err.contains("this key has no encryption subkey"), "{err}");
    assert!(err.contains("gpg --quick-add-key"), "{err}");
    assert!(!err.contains("Import the public key"), "{err}");
}

#[test]
fn a_mistyped_subcommand_is_an_error_and_opens_no_editor() {
    let sandbox = Sandbox::new(&[]);
    // An editor that would "succeed": without the check, rsops would create the file.
    let env = [("EDITOR", "true"), ("SOPS_EDITOR", "true")];
    for (typo, suggestion) in [("completoin", Some("completion")), ("version", None)] {
        let out = sandbox.run_in(&rsops(), &sandbox.work(), &[typo], &env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.code, 2, "{}", out.summary());
        assert!(
            err.contains(&format!("unrecognized subcommand '{typo}'")),
            "{err}"
        );
        if let Some(name) = suggestion {
            assert!(err.contains(&format!("'{name}'")), "{err}");
        }
        assert!(err.contains(&format!("rsops edit {typo}")), "{err}");
        assert!(!sandbox.work().join(typo).exists(), "{typo} was created");
    }
}

#[test]
fn a_bare_existing_file_is_still_edited() {
    let sandbox = Sandbox::new(&[]);
    sandbox.put("completoin", b"not encrypted\n");
    let out = sandbox.run_in(
        &rsops(),
        &sandbox.work(),
        &["completoin"],
        &[("EDITOR", "true")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("unrecognized subcommand"), "{err}");
}

/// Files encrypted to age1 under a `.sops.yaml` that now wants age1 and age2: each needs an
/// updatekeys.
fn stale_files(sandbox: &Sandbox, dir: &str, count: usize) {
    let rule = |keys: &str| format!("creation_rules:\n  - path_regex: .*\n    age: {keys}\n");
    let (age1, age2) = (Key::Age1.recipient(), Key::Age2.recipient());
    sandbox.put(".sops.yaml", rule(&age1).as_bytes());
    for i in 0..count {
        let name = format!("{dir}/f{i}.yaml");
        sandbox.put(&name, b"a: b\n");
        let out = sandbox.run(&rsops(), &["encrypt", "-i", &name]);
        assert!(out.ok(), "{}", out.summary());
    }
    sandbox.put(".sops.yaml", rule(&format!("{age1},{age2}")).as_bytes());
}

/// Runs rsops on a pseudo-terminal (util-linux `script`): stdout and stderr both land in the
/// returned stdout, as a user would see them.
fn on_a_terminal(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut line = rsops().path.display().to_string();
    for arg in args {
        line.push(' ');
        line.push_str(&shlex::try_quote(arg).expect("quotable"));
    }
    let script = Tool {
        name: "script",
        path: PathBuf::from("/usr/bin/script"),
    };
    let mut all_env = vec![("TERM", "xterm")];
    all_env.extend_from_slice(env);
    let out = sandbox.run_in(
        &script,
        &sandbox.work(),
        &["-qec", &line, "/dev/null"],
        &all_env,
    );
    assert!(out.ok(), "{}", out.summary());
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn updatekeys_colours_its_diff_only_on_a_terminal_without_no_color() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    let age2 = Key::Age2.recipient();

    stale_files(&sandbox, "tty", 1);
    let out = on_a_terminal(&sandbox, &["updatekeys", "-y", "tty/f0.yaml"], &[]);
    assert!(
        text(&out.stdout).contains(&format!("\x1b[32m+++ {age2}")),
        "no green added key in {:?}",
        text(&out.stdout)
    );

    stale_files(&sandbox, "nocolor", 1);
    let env = [("NO_COLOR", "1")];
    let out = on_a_terminal(&sandbox, &["updatekeys", "-y", "nocolor/f0.yaml"], &env);
    let shown = text(&out.stdout);
    assert!(shown.contains(&format!("+++ {age2}")), "{shown:?}");
    assert!(
        !shown.contains('\x1b'),
        "escape codes with NO_COLOR: {shown:?}"
    );

    stale_files(&sandbox, "pipe", 3);
    let out = sandbox.run(&rsops(), &["updatekeys", "-y", "-r", "pipe"]);
    assert!(out.ok(), "{}", out.summary());
    for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !stream.contains(&0x1b),
            "escape codes on {name}: {:?}",
            text(stream)
        );
    }
}

#[test]
fn updatekeys_shows_progress_on_a_terminal_unless_quiet() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    stale_files(&sandbox, "loud", 3);
    let out = on_a_terminal(&sandbox, &["updatekeys", "-y", "-r", "loud"], &[]);
    let shown = text(&out.stdout);
    assert!(shown.contains("= 3/3 "), "no progress bar in {shown:?}");
    assert!(shown.contains("synced with new keys"), "{shown:?}");

    stale_files(&sandbox, "quiet", 3);
    let args = ["--quiet", "updatekeys", "-y", "-r", "quiet"];
    let out = on_a_terminal(&sandbox, &args, &[]);
    let shown = text(&out.stdout);
    assert!(!shown.contains("/3"), "progress despite --quiet: {shown:?}");
    assert!(
        !shown.contains("synced") && !shown.contains("checked"),
        "{shown:?}"
    );
    // The change itself is the command's output, not information: it stays.
    assert!(shown.contains("The following changes"), "{shown:?}");
}

#[test]
fn rotate_reports_its_phases_on_a_terminal_unless_quiet() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    stale_files(&sandbox, "r", 1);
    let out = on_a_terminal(&sandbox, &["rotate", "-i", "r/f0.yaml"], &[]);
    assert!(
        text(&out.stdout).contains("rotate r/f0.yaml: "),
        "{:?}",
        text(&out.stdout)
    );
    let out = on_a_terminal(&sandbox, &["--quiet", "rotate", "-i", "r/f0.yaml"], &[]);
    assert!(out.stdout.is_empty(), "{:?}", text(&out.stdout));
    let out = sandbox.run(&rsops(), &["rotate", "-i", "r/f0.yaml"]);
    assert!(out.ok() && out.stderr.is_empty(), "{}", out.summary());
}

/// `--verbose` says which creation rule matched, which keys the data key was wrapped for and
/// which key opened it, including the keys that failed first; never a value. Without the flag
/// nothing of this is printed.
#[test]
fn verbose_names_the_rule_and_the_keys_never_a_secret() {
    let sandbox = Sandbox::new(&[Key::Age2]);
    let (age1, age2) = (Key::Age1.recipient(), Key::Age2.recipient());
    sandbox.put(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.json$\n    age: {age1}\n  - path_regex: \\.yaml$\n    age: {age1},{age2}\n"
        )
        .as_bytes(),
    );
    sandbox.put("f.yaml", b"password: hunter2-s3cret\n");
    let tool = rsops();
    let enc = sandbox.run(&tool, &["--verbose", "encrypt", "-i", "f.yaml"]);
    assert!(enc.ok(), "{}", enc.summary());
    let log = text(&enc.stderr);
    assert!(log.contains("creation rule 1 of"), "{log}");
    assert!(log.contains(r#"(path_regex: "\\.yaml$")"#), "{log}");
    for recipient in [&age1, &age2] {
        assert!(
            log.contains(&format!("data key encrypted for age key {recipient}")),
            "{log}"
        );
    }

    let dec = sandbox.run(&tool, &["--verbose", "decrypt", "f.yaml"]);
    assert!(dec.ok(), "{}", dec.summary());
    let log = text(&dec.stderr);
    assert!(log.contains(&format!("age key {age1}: failed")), "{log}");
    assert!(
        log.contains(&format!("data key decrypted with age key {age2}")),
        "{log}"
    );
    assert!(!log.contains("hunter2"), "{log}");
    assert!(!log.contains("AGE-SECRET-KEY"), "{log}");

    let quiet = sandbox.run(&tool, &["decrypt", "f.yaml"]);
    assert!(quiet.ok(), "{}", quiet.summary());
    assert!(quiet.stderr.is_empty(), "{}", text(&quiet.stderr));
    assert!(text(&quiet.stdout).contains("hunter2-s3cret"));
}
