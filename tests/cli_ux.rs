//! What a newcomer meets first: errors that name the real problem, help, typos, progress and
//! colour.

mod common;

use common::{rsops, Sandbox};
use std::path::Path;
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
    let out = sandbox.run_in(
        &rsops(),
        &sandbox.work(),
        &["encrypt", "--pgp", &fpr, "s.yaml"],
        &[("GNUPGHOME", home.path().to_str().expect("utf-8 path"))],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.ok() && out.stdout.is_empty(), "{}", out.summary());
    assert!(err.contains("this key has no encryption subkey"), "{err}");
    assert!(err.contains("gpg --quick-add-key"), "{err}");
    assert!(!err.contains("Import the public key"), "{err}");
}

#[test]
fn a_mistyped_subcommand_is_an_error_and_opens_no_editor() {
    let sandbox = Sandbox::new(&[]);
    // An editor that would "succeed": without the check, rsops would create the file.
    let env = [("EDITOR", "true"), ("SOPS_EDITOR", "true")];
    for (typo, suggestion) in [("completoin", Some("completion")), ("publish", None)] {
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
