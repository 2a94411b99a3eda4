//! Safe in-place and `--output` writes (issue 11): symlinks are written through, owner and mode
//! survive a rewrite, read-only and hard-linked files are refused, plaintext outputs are private.
//! The descriptor-only handling of the temp file (the symlink race) is unit-tested in
//! src/sys/atomic.rs, where the race can be staged deterministically.

mod common;
use common::harden as support;

use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use support::{age1_key_file, run_rsops, Limits, Run, AGE1_RECIPIENT, FIXTURE_PLAIN};

fn key_env() -> Vec<(&'static str, std::ffi::OsString)> {
    vec![("SOPS_AGE_KEY_FILE", age1_key_file())]
}

fn run(args: &[&str], extra: &[(&str, &OsStr)]) -> Run {
    let key = age1_key_file();
    let mut env: Vec<(&str, &OsStr)> = vec![("SOPS_AGE_KEY_FILE", key.as_os_str())];
    env.extend_from_slice(extra);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run_rsops(&args, &env, &Limits::default())
}

fn ok(args: &[&str], extra: &[(&str, &OsStr)]) {
    let out = run(args, extra);
    assert_eq!(
        out.code,
        Some(0),
        "rsops {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn encrypt_in_place(path: &Path) -> Run {
    run(
        &[
            "encrypt",
            "--age",
            AGE1_RECIPIENT,
            "-i",
            path.to_str().unwrap(),
        ],
        &[],
    )
}

/// Decrypts with the real sops, so "encrypted" means what sops means by it.
fn sops_decrypt(path: &Path) -> String {
    let out = std::process::Command::new(common::sops().path)
        .args(["decrypt"])
        .arg(path)
        .envs(key_env())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops decrypt {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_symlink()
}

fn is_encrypted(text: &str) -> bool {
    text.contains("ENC[AES256_GCM") && !text.contains("hunter2-PLAINTEXT")
}

/// A plaintext file and a symlink to it (`link.yaml -> real.yaml`), plus a second link to the
/// link (`chain.yaml -> link.yaml`).
fn linked_fixture(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let real = dir.join("real.yaml");
    std::fs::write(&real, FIXTURE_PLAIN).unwrap();
    std::os::unix::fs::symlink("real.yaml", dir.join("link.yaml")).unwrap();
    std::os::unix::fs::symlink("link.yaml", dir.join("chain.yaml")).unwrap();
    (real, dir.join("link.yaml"))
}

#[test]
fn encrypt_in_place_writes_through_a_symlink() {
    for via in ["link.yaml", "chain.yaml"] {
        let dir = tempfile::tempdir().unwrap();
        let (real, _) = linked_fixture(dir.path());
        let link = dir.path().join(via);
        let out = encrypt_in_place(&link);
        assert_eq!(
            out.code,
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(is_symlink(&link), "{via} was replaced by a regular file");
        assert!(is_symlink(&dir.path().join("link.yaml")));
        let text = std::fs::read_to_string(&real).unwrap();
        assert!(
            is_encrypted(&text),
            "the target of {via} is still plaintext"
        );
        assert!(sops_decrypt(&real).contains("hunter2-PLAINTEXT"));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "extra files next to the target"
        );
    }
}

#[test]
fn decrypt_in_place_writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let (real, link) = linked_fixture(dir.path());
    assert_eq!(encrypt_in_place(&real).code, Some(0));
    set_mode(&real, 0o644);
    ok(&["decrypt", "-i", link.to_str().unwrap()], &[]);
    assert!(is_symlink(&link));
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("hunter2-PLAINTEXT"), "{text}");
    assert_eq!(
        mode(&real),
        0o600,
        "decrypted in place, yet readable by others"
    );
}

#[test]
fn edit_writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let (real, _) = linked_fixture(dir.path());
    assert_eq!(encrypt_in_place(&real).code, Some(0));
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/port: 5432/port: 6543/' \"$1\"\n",
    )
    .unwrap();
    set_mode(&editor, 0o755);
    let chain = dir.path().join("chain.yaml");
    ok(
        &["edit", chain.to_str().unwrap()],
        &[("EDITOR", editor.as_os_str())],
    );
    assert!(is_symlink(&chain));
    assert!(is_symlink(&dir.path().join("link.yaml")));
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(is_encrypted(&text), "edit left plaintext in the target");
    assert!(sops_decrypt(&real).contains("port: 6543"));
}

/// Root rewriting a user's file must not make it root's, nor loosen or tighten its mode.
#[test]
fn owner_group_and_mode_survive_a_rewrite_by_root() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping: not root, so the file cannot be given to another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("theirs.yaml");
    std::fs::write(&file, FIXTURE_PLAIN).unwrap();
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    set_mode(&file, 0o640);
    let out = encrypt_in_place(&file);
    assert_eq!(
        out.code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534), "owner changed");
    assert_eq!(mode(&file), 0o640);
    assert!(is_encrypted(&std::fs::read_to_string(&file).unwrap()));
}

/// sops: `Could not open in-place file for writing: open …: permission denied`, exit 3. rsops
/// decides from the mode bits, so root (whom file modes do not stop) refuses as well.
#[test]
fn read_only_file_is_refused_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ro.yaml");
    std::fs::write(&file, FIXTURE_PLAIN).unwrap();
    set_mode(&file, 0o444);
    let out = encrypt_in_place(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.code, Some(3), "{stderr}");
    assert!(
        stderr.contains("could not open in-place file for writing")
            && stderr.contains("permission denied"),
        "{stderr}"
    );
    assert!(stderr.contains("chmod u+w"), "no hint: {stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), FIXTURE_PLAIN);
    assert_eq!(mode(&file), 0o444);
}

/// Replacing one name of a hard-linked file would leave the plaintext under the other.
#[test]
fn hard_linked_file_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.yaml");
    let other = dir.path().join("b.yaml");
    std::fs::write(&file, FIXTURE_PLAIN).unwrap();
    std::fs::hard_link(&file, &other).unwrap();
    let out = encrypt_in_place(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.code, Some(3), "{stderr}");
    assert!(stderr.contains("2 hard links"), "{stderr}");
    assert!(stderr.contains("RSOPS_ALLOW_HARD_LINKS=1"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), FIXTURE_PLAIN);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), FIXTURE_PLAIN);

    ok(
        &[
            "encrypt",
            "--age",
            AGE1_RECIPIENT,
            "-i",
            file.to_str().unwrap(),
        ],
        &[("RSOPS_ALLOW_HARD_LINKS", OsStr::new("1"))],
    );
    assert!(is_encrypted(&std::fs::read_to_string(&file).unwrap()));
    assert_eq!(std::fs::read_to_string(&other).unwrap(), FIXTURE_PLAIN);
}

/// Plaintext outputs are 0600 (or the existing file's stricter mode), never the loose mode of a
/// file that held something else.
#[test]
fn decrypt_output_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let encrypted = dir.path().join("enc.yaml");
    std::fs::write(&encrypted, FIXTURE_PLAIN).unwrap();
    assert_eq!(encrypt_in_place(&encrypted).code, Some(0));
    for (existing, expected) in [(Some(0o644), 0o600), (Some(0o400), 0o400), (None, 0o600)] {
        let out_file = dir.path().join(format!("out-{existing:?}.yaml"));
        if let Some(existing) = existing {
            std::fs::write(&out_file, "old: value\n").unwrap();
            set_mode(&out_file, existing);
        }
        ok(
            &[
                "decrypt",
                "--output",
                out_file.to_str().unwrap(),
                encrypted.to_str().unwrap(),
            ],
            &[],
        );
        assert!(std::fs::read_to_string(&out_file)
            .unwrap()
            .contains("hunter2-PLAINTEXT"));
        assert_eq!(mode(&out_file), expected, "existing mode {existing:?}");
    }
}

/// Ciphertext outputs keep the existing file's mode, as sops does.
#[test]
fn encrypt_output_keeps_the_existing_mode() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.yaml");
    std::fs::write(&plain, FIXTURE_PLAIN).unwrap();
    let out_file = dir.path().join("out.yaml");
    std::fs::write(&out_file, "old").unwrap();
    set_mode(&out_file, 0o644);
    ok(
        &[
            "encrypt",
            "--age",
            AGE1_RECIPIENT,
            "--output",
            out_file.to_str().unwrap(),
            plain.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(mode(&out_file), 0o644);
    assert!(sops_decrypt(&out_file).contains("hunter2-PLAINTEXT"));
}

/// A temp left by a killed run (its pid is dead) is removed by the next write in that directory;
/// a live run's temp and anything that is not our regular file are left alone.
#[test]
fn stale_temps_of_dead_runs_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let kept = outside.path().join("kept");
    std::fs::write(&kept, "kept").unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.path().join(format!(".rsops-{dead}-x.tmp"));
    let live = dir
        .path()
        .join(format!(".rsops-{}-x.tmp", std::process::id()));
    let link = dir.path().join(format!(".rsops-{dead}-link.tmp"));
    std::fs::write(&stale, "partial hunter2-PLAINTEXT").unwrap();
    std::fs::write(&live, "in use").unwrap();
    std::os::unix::fs::symlink(&kept, &link).unwrap();
    let file = dir.path().join("f.yaml");
    std::fs::write(&file, FIXTURE_PLAIN).unwrap();
    assert_eq!(encrypt_in_place(&file).code, Some(0));
    assert!(!stale.exists(), "the dead run's temp was kept");
    assert!(live.exists(), "a live run's temp was removed");
    assert!(is_symlink(&link), "a symlink was removed");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "kept");
}
