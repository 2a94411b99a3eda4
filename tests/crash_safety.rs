//! Crash-safe writes: `rsops encrypt -i`, `rotate -i` and `edit` are SIGKILLed at random moments,
//! many times; afterwards the file must be the old or the new complete version — never empty,
//! partial, or plaintext where ciphertext belongs. A full disk (a tiny tmpfs when the tests run as
//! root, and a file-size limit everywhere) must leave the original intact and say so.
//!
//! `RSOPS_CRASH_ITERATIONS` sets the random kills per command (default 40; a quarter as many more
//! are aimed at the write window); the kill times come from a printed seed, and
//! `RSOPS_TEST_SEED` replays them.

mod common;
use common::harden as support;

use rand::Rng;
use rsops::file::SopsFile;
use rsops::keys::age::AgeIdentities;
use rsops::keys::discovery::Env;
use rsops::keys::KeyUnwrapper;
use rsops::stores::{store_for, Format, StoreOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{age1_key_file, rsops_bin, AGE1_RECIPIENT};

fn iterations() -> usize {
    std::env::var("RSOPS_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

/// A plaintext big enough that encryption and writing take a measurable time.
fn big_plaintext() -> String {
    big_plaintext_of(3000)
}

/// Decrypts `bytes` in-process with keys/age1.txt and returns the plaintext YAML.
fn decrypt_yaml(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let store = store_for(Format::Yaml, StoreOptions::default());
    let key = std::fs::read_to_string(support::repo().join("keys/age1.txt")).unwrap();
    let age = AgeIdentities::with_env(Env::from_pairs([("SOPS_AGE_KEY", key)]));
    let unwrappers: [&dyn KeyUnwrapper; 1] = [&age];
    let keys = rsops::keys::Unwrappers(&unwrappers);
    let plain = SopsFile::decrypt(store.as_ref(), bytes, &keys, &[]).map_err(|e| e.to_string())?;
    store
        .emit_plain(plain.document())
        .map_err(|e| e.to_string())
}

fn command(args: &[&str], file: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(rsops_bin());
    c.args(args)
        .arg(file)
        .env("SOPS_AGE_KEY_FILE", age1_key_file())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// How long one uninterrupted run takes now, so kills can land anywhere in it (and a bit after):
/// the faster of two runs. Measured again every 10 kills, because the load on the machine
/// changes (the crash tests start together and end one by one), and kill times drawn from a run
/// under a heavier load would mostly fall after the command exited.
fn full_run_time(args: &[&str], setup: &dyn Fn(&Path), env: &[(&str, &str)]) -> Duration {
    (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("f.yaml");
            setup(&file);
            let start = Instant::now();
            let status = command(args, &file, env).status().unwrap();
            assert!(status.success(), "uninterrupted {args:?} failed");
            start.elapsed()
        })
        .min()
        .unwrap()
}

#[derive(Default, Debug)]
struct Tally {
    old: usize,
    new: usize,
    /// Kills that found the command still running (not already exited on its own).
    while_running: usize,
    /// Kills inside the write window: the command had its temp output open beside the file
    /// (seen in /proc/PID/fd just before the kill) and the file was still the old version after
    /// it, so the command died between creating its output and renaming it over the file.
    in_write_window: usize,
    leftover_temps: usize,
}

/// Kills `args` at random moments; `classify` says whether the file is the old or the new
/// version (or returns why it is neither).
fn kill_repeatedly(
    args: &[&str],
    env: &[(&str, &str)],
    setup: &dyn Fn(&Path),
    classify: &dyn Fn(&[u8]) -> Result<bool, String>,
) -> Tally {
    kill_repeatedly_checking(args, env, setup, classify, &|dir, file| {
        let mut leftovers = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path() != file {
                leftovers += 1;
                check_leftover(&entry.path(), args);
            }
        }
        leftovers
    })
}

/// When to kill in one run.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// This many microseconds after the start.
    Micros(u64),
    /// As soon as the command has a temp file open beside the target.
    TempOpen,
}

/// [`kill_repeatedly`], with `leftovers(dir, file)` checking what a kill left beside the file
/// and returning how many such entries there were. `iterations()` kills at random moments (from
/// a printed seed, `RSOPS_TEST_SEED` replays it), then a quarter as many aimed at the moment a
/// temp output is open; the kills must have landed while the command ran and inside its write
/// window, else the test proved nothing.
fn kill_repeatedly_checking(
    args: &[&str],
    env: &[(&str, &str)],
    setup: &dyn Fn(&Path),
    classify: &dyn Fn(&[u8]) -> Result<bool, String>,
    leftovers: &dyn Fn(&Path, &Path) -> usize,
) -> Tally {
    let mut full = 0;
    let mut rng = common::seeded_rng(&format!("crash_safety {args:?}"));
    let mut tally = Tally::default();
    let random = iterations();
    let aimed = random.div_ceil(4);
    let mut random_while_running = 0;
    for i in 0..random + aimed {
        if i % 10 == 0 && i < random {
            full = full_run_time(args, setup, env).as_micros() as u64 + 1;
        }
        // Half the random kills anywhere in (and a little past) a run, half in its last third,
        // where the output is written and renamed.
        let at = if i >= random {
            KillAt::TempOpen
        } else if i % 2 == 0 {
            KillAt::Micros(rng.gen_range(0..full * 12 / 10))
        } else {
            KillAt::Micros(rng.gen_range(full * 2 / 3..full * 11 / 10))
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.yaml");
        setup(&file);
        let mut child = command(args, &file, env).spawn().unwrap();
        let (running, temp_open) = match at {
            KillAt::Micros(us) => {
                std::thread::sleep(Duration::from_micros(us));
                let temp_open = temp_open_beside(child.id(), &file);
                (child.try_wait().unwrap().is_none(), temp_open)
            }
            KillAt::TempOpen => {
                let mut seen = false;
                while child.try_wait().unwrap().is_none() {
                    if temp_open_beside(child.id(), &file) {
                        seen = true;
                        break;
                    }
                }
                (seen, seen)
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        let bytes = std::fs::read(&file)
            .unwrap_or_else(|e| panic!("{args:?} kill {i} ({at:?}): the file is gone: {e}"));
        let is_new = match classify(&bytes) {
            Ok(is_new) => is_new,
            Err(why) => panic!(
                "{args:?} kill {i} ({at:?}): the file is neither the old nor the new version: {why}\n{}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            ),
        };
        let left = leftovers(dir.path(), &file);
        assert!(
            left <= 1,
            "{args:?} kill {i} ({at:?}): {left} temp files beside the file; one run writes one"
        );
        assert!(
            left == 0 || !is_new,
            "{args:?} kill {i} ({at:?}): a temp was left, so the run died before its rename, yet \
             the file is the new version"
        );
        if is_new {
            tally.new += 1;
        } else {
            tally.old += 1;
        }
        tally.while_running += usize::from(running);
        if i < random {
            random_while_running += usize::from(running);
        }
        tally.in_write_window += usize::from((temp_open || left > 0) && !is_new);
        tally.leftover_temps += left;
    }
    eprintln!("{args:?}: {random} random and {aimed} aimed kills, {tally:?}");
    assert!(
        random_while_running >= random / 4,
        "{args:?}: only {random_while_running} of {random} random kills found the command \
         running: the kill times miss the run"
    );
    assert!(
        tally.in_write_window >= aimed.div_ceil(2),
        "{args:?}: only {} kills landed between the temp output appearing and the rename \
         (aimed: {aimed}): the write window was not tested",
        tally.in_write_window
    );
    assert!(
        tally.leftover_temps <= tally.in_write_window,
        "{args:?}: {} temps left by {} kills inside the write window",
        tally.leftover_temps,
        tally.in_write_window
    );
    tally
}

/// Whether process `pid` has a file open in `file`'s directory other than `file` itself (and the
/// directory): its temp output, unnamed (`O_TMPFILE`, shown as `DIR/#INODE (deleted)`) or named.
fn temp_open_beside(pid: u32, file: &Path) -> bool {
    let dir = file.parent().unwrap();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            target.starts_with(dir)
                && target != dir
                && target != file
                && !target.ends_with("sweep.yaml")
        })
    })
}

/// A SIGKILLed write can leave its temp file behind (nothing can remove it); it must never hold
/// plaintext of an encrypting command.
fn check_leftover(path: &Path, args: &[&str]) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with(".rsops-") && name.ends_with(".tmp"),
        "{args:?}: unexpected file {name} next to the target"
    );
    let bytes = std::fs::read(path).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains("-PLAINTEXT-"),
        "{args:?}: leftover temp file {name} holds plaintext"
    );
}

#[test]
fn sigkill_during_encrypt_in_place() {
    let plain = big_plaintext();
    let expected = decrypt_yaml(&encrypted(&plain)).unwrap();
    let setup = |f: &Path| std::fs::write(f, &plain).unwrap();
    let classify = |bytes: &[u8]| -> Result<bool, String> {
        if bytes == plain.as_bytes() {
            return Ok(false);
        }
        let got = decrypt_yaml(bytes)?;
        if got == expected {
            Ok(true)
        } else {
            Err("decrypts to something else".into())
        }
    };
    kill_repeatedly(
        &["encrypt", "--age", AGE1_RECIPIENT, "-i"],
        &[],
        &setup,
        &classify,
    );
}

/// `decrypt -i` writes plaintext, so a temp it leaves would be plaintext on disk: the temp is
/// unnamed while it is written, so a kill leaves at most a complete copy (in the instant between
/// naming it and renaming it over the target), and the next write in the directory removes that.
/// Random kills, then kills aimed at the moment its temp output is open.
#[test]
fn sigkill_during_decrypt_in_place_leaves_no_temp() {
    let plain = big_plaintext();
    let original = encrypted(&plain);
    let expected = decrypt_yaml(&original).unwrap();
    let setup = |f: &Path| std::fs::write(f, &original).unwrap();
    let classify = |bytes: &[u8]| -> Result<bool, String> {
        if bytes == original.as_slice() {
            Ok(false)
        } else if bytes == expected.as_slice() {
            Ok(true)
        } else {
            Err("neither the ciphertext nor the complete plaintext".into())
        }
    };
    let leftovers = |dir: &Path, file: &Path| -> usize {
        let found = temps_beside(dir, file);
        for temp in &found {
            assert_eq!(
                std::fs::read(temp).unwrap(),
                expected,
                "decrypt -i left a partial temp file {temp:?}"
            );
        }
        if !found.is_empty() {
            sweep_by_writing_in(dir);
            let after = temps_beside(dir, file);
            assert!(
                after.is_empty(),
                "temp files of a killed run stay: {after:?}"
            );
        }
        found.len()
    };
    kill_repeatedly_checking(&["decrypt", "-i"], &[], &setup, &classify, &leftovers);
}

fn big_plaintext_of(keys: usize) -> String {
    let mut s = String::from("# crash test\n");
    for i in 0..keys {
        s.push_str(&format!("key{i}: value-{i}-PLAINTEXT-{}\n", "x".repeat(40)));
    }
    s
}

/// Everything in `dir` but `file` (and the sweep's own scratch file).
fn temps_beside(dir: &Path, file: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != file && !p.ends_with("sweep.yaml"))
        .collect()
}

/// Any rsops write in a directory first removes the temps of dead rsops runs there.
fn sweep_by_writing_in(dir: &Path) {
    let other = dir.join("sweep.yaml");
    std::fs::write(&other, "a: b\n").unwrap();
    let status = command(&["encrypt", "--age", AGE1_RECIPIENT, "-i"], &other, &[])
        .status()
        .unwrap();
    assert!(status.success());
}

fn encrypted(plain: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.yaml");
    std::fs::write(&file, plain).unwrap();
    let status = command(&["encrypt", "--age", AGE1_RECIPIENT, "-i"], &file, &[])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(&file).unwrap()
}

#[test]
fn sigkill_during_rotate_in_place() {
    let plain = big_plaintext();
    let original = encrypted(&plain);
    let expected = decrypt_yaml(&original).unwrap();
    let setup = |f: &Path| std::fs::write(f, &original).unwrap();
    let classify = |bytes: &[u8]| -> Result<bool, String> {
        if bytes == original.as_slice() {
            return Ok(false);
        }
        if decrypt_yaml(bytes)? == expected {
            Ok(true)
        } else {
            Err("decrypts to something else".into())
        }
    };
    kill_repeatedly(&["rotate", "-i"], &[], &setup, &classify);
}

#[test]
fn sigkill_during_edit() {
    let plain = big_plaintext();
    let original = encrypted(&plain);
    let expected_old = decrypt_yaml(&original).unwrap();
    let editor = editor_script();
    let setup = |f: &Path| std::fs::write(f, &original).unwrap();
    let classify = |bytes: &[u8]| -> Result<bool, String> {
        if bytes == original.as_slice() {
            return Ok(false);
        }
        let got = decrypt_yaml(bytes)?;
        if got == expected_old {
            return Err("rewritten, but without the edit".into());
        }
        let text = String::from_utf8_lossy(&got);
        if text.contains("key0: edited") && text.contains("key2999: value-2999") {
            Ok(true)
        } else {
            Err("decrypts to an unexpected document".into())
        }
    };
    let editor_env = editor.1.to_str().unwrap().to_string();
    let scratch = tempfile::tempdir().unwrap();
    let tmpdir = scratch.path().to_str().unwrap().to_string();
    kill_repeatedly(
        &["edit"],
        &[("EDITOR", editor_env.as_str()), ("TMPDIR", tmpdir.as_str())],
        &setup,
        &classify,
    );
    // SIGKILL cannot be caught, so the editor's scratch copy of a killed run can stay behind in
    // its private 0700 directory; anything left must be inside such a directory.
    for entry in std::fs::read_dir(scratch.path()).unwrap().flatten() {
        use std::os::unix::fs::PermissionsExt;
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert!(
            entry.file_type().unwrap().is_dir() && mode == 0o700,
            "scratch entry {:?} is not a 0700 directory",
            entry.path()
        );
    }
}

/// An "editor" that changes the first value in place.
fn editor_script() -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("editor.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\nsed -i 's/^key0: .*/key0: edited/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, path)
}

/// The no-space and file-too-large errors: the command fails with sops's write error code,
/// says the original is unchanged, leaves it byte for byte, and leaves no temp file.
fn assert_write_failure_is_safe(file: &Path, original: &[u8], run: &support::Run) {
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.code, Some(3), "expected exit 3; stderr: {stderr}");
    assert!(
        stderr.contains("left unchanged"),
        "the error does not say the original is intact: {stderr}"
    );
    assert_eq!(
        std::fs::read(file).unwrap(),
        original,
        "the original changed"
    );
    let dir = file.parent().unwrap();
    let others: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != file)
        .collect();
    assert!(others.is_empty(), "temp files left behind: {others:?}");
}

#[test]
fn file_size_limit_leaves_original_intact() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.yaml");
    let plain = big_plaintext();
    std::fs::write(&file, &plain).unwrap();
    // SIGXFSZ ignored, so the write fails with EFBIG instead of killing the process.
    let run = limited_run(
        "trap '' XFSZ; ulimit -f 64; exec \"$@\"",
        &["encrypt", "--age", AGE1_RECIPIENT, "-i"],
        &file,
    );
    assert_write_failure_is_safe(&file, plain.as_bytes(), &run);
}

fn limited_run(script: &str, args: &[&str], file: &Path) -> support::Run {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(rsops_bin())
        .args(args)
        .arg(file)
        .env("SOPS_AGE_KEY_FILE", age1_key_file())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    support::Run {
        code: out.status.code(),
        signal: None,
        stdout: out.stdout,
        stderr: out.stderr,
        timed_out: false,
    }
}

/// A real full disk: a 256 KiB tmpfs holding a 150 KiB plaintext, which cannot also hold its
/// encrypted copy. Needs root (mount): as root it must run; only a non-root run skips it, with a
/// message (the file-size test above covers the path there).
#[test]
fn full_tmpfs_leaves_original_intact() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping the tmpfs check: not root (the file-size-limit test covers it)");
        return;
    }
    let mount_point = tempfile::tempdir().unwrap();
    // As root the mount must work: a failure here is a failure of the test, not a skip.
    let mount = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(mount_point.path())
        .output()
        .expect("running mount");
    assert!(
        mount.status.success(),
        "running as root, but cannot mount a tmpfs ({}): {}",
        mount.status,
        String::from_utf8_lossy(&mount.stderr)
    );
    let result = std::panic::catch_unwind(|| {
        let file = mount_point.path().join("f.yaml");
        let plain = big_plaintext();
        let plain = &plain[..150 * 1024];
        let plain = &plain[..plain.rfind('\n').unwrap() + 1];
        std::fs::write(&file, plain).unwrap();
        let run = limited_run(
            "exec \"$@\"",
            &["encrypt", "--age", AGE1_RECIPIENT, "-i"],
            &file,
        );
        assert_write_failure_is_safe(&file, plain.as_bytes(), &run);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(stderr.contains("No space left"), "{stderr}");
    });
    let _ = Command::new("umount").arg(mount_point.path()).status();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
