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
