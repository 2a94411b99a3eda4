//! Secret hygiene: every error path we can provoke keeps plaintext out of stderr (with and
//! without `--verbose`) and out of stdout when it fails; the scratch files of `edit` and
//! `exec-file` are 0600 in a 0700 directory and gone afterwards, on success, on failure and on
//! SIGTERM; the process runs with core dumps off.

mod common;
use common::harden as support;

use std::ffi::OsStr;
use std::path::PathBuf;
use support::{encrypt_fixture, run_rsops_with_stdin, Limits, AGE1_RECIPIENT, PLAINTEXT_MARKERS};

struct Case {
    name: &'static str,
    args: Vec<String>,
    stdin: Vec<u8>,
    env: Vec<(&'static str, String)>,
}

struct Setup {
    dir: tempfile::TempDir,
    encrypted: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let encrypted = dir.path().join("enc.yaml");
        std::fs::write(&encrypted, encrypt_fixture()).unwrap();
        Setup { dir, encrypted }
    }

    /// A file in the directory, with the given contents.
    fn file(&self, name: &str, contents: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    fn enc(&self) -> String {
        self.encrypted.display().to_string()
    }

    /// The encrypted fixture, edited by `f`, as a new file.
    fn tampered(&self, name: &str, f: impl Fn(&str) -> String) -> String {
        let text = std::fs::read_to_string(&self.encrypted).unwrap();
        let changed = f(&text);
        assert_ne!(changed, text, "{name}: tampering changed nothing");
        self.file(name, &changed)
    }

    fn script(&self, name: &str, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = self.file(name, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

fn case(name: &'static str, args: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: Vec::new(),
        env: Vec::new(),
    }
}

/// The value line of `key` in the encrypted fixture, relabelled with another type tag: it still
/// authenticates (the type is not part of the AAD), so decryption gets as far as parsing the
/// plaintext as the wrong type — an error raised while holding the plaintext.
fn retype(text: &str, key: &str, to: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{key}: ENC[")))
        .unwrap();
    text.replacen(line, &line.replace("type:str]", &format!("type:{to}]")), 1)
}

fn error_cases(s: &Setup) -> Vec<Case> {
    let enc = s.enc();
    let bad_yaml = s.file(
        "bad.yaml",
        "password: [hunter2-PLAINTEXT\nuser: {s3cr3t-user-PLAINTEXT\n",
    );
    let bad_env = s.file("bad.env", "OK=1\nhunter2-PLAINTEXT\n");
    let bad_ini = s.file("bad.ini", "[s]\nhunter2-PLAINTEXT\n");
    let bad_json = s.file("bad.json", "{\"a\": hunter2-PLAINTEXT}");
    let non_string_key = s.file("key.yaml", "? [hunter2-PLAINTEXT]\n: 1\n");
    let retyped_int = s.tampered("int.yaml", |t| retype(t, "password", "int"));
    let retyped_bool = s.tampered("bool.yaml", |t| retype(t, "user", "bool"));
    let retyped_time = s.tampered("time.yaml", |t| retype(t, "password", "time"));
    let mac_mismatch = s.tampered("mac.yaml", |t| {
        let line = t.lines().find(|l| l.contains("port: ENC[")).unwrap();
        t.replacen(&format!("{line}\n"), "", 1)
    });
    let swapped = s.tampered("swap.yaml", |t| {
        // Moving a ciphertext to another key breaks its AAD.
        let user = t.lines().find(|l| l.contains("user: ENC[")).unwrap();
        let pass = t.lines().find(|l| l.contains("password: ENC[")).unwrap();
        let user_enc = user.split_once(": ").unwrap().1;
        t.replacen(
            user,
            &format!("    user: {}", pass.split_once(": ").unwrap().1),
            1,
        )
        .replacen(pass, &format!("    password: {user_enc}"), 1)
    });
    let editor_invalid = s.script(
        "ed-invalid.sh",
        "printf 'password: [hunter2-PLAINTEXT-edited\\n' > \"$1\"",
    );
    let editor_fails = s.script("ed-fails.sh", "cat \"$1\" >&2; exit 3");
    let unwritable = s
        .dir
        .path()
        .join("no/such/dir/out.yaml")
        .display()
        .to_string();
    let age2 = support::repo().join("keys/age2.txt").display().to_string();
    let mut cases = vec![
        case(
            "encrypt bad yaml",
            &["encrypt", "--age", AGE1_RECIPIENT, &bad_yaml],
        ),
        case(
            "encrypt bad dotenv",
            &["encrypt", "--age", AGE1_RECIPIENT, &bad_env],
        ),
        case(
            "encrypt bad ini",
            &["encrypt", "--age", AGE1_RECIPIENT, &bad_ini],
        ),
        case(
            "encrypt bad json",
            &["encrypt", "--age", AGE1_RECIPIENT, &bad_json],
        ),
        case(
            "encrypt non-string key",
            &["encrypt", "--age", AGE1_RECIPIENT, &non_string_key],
        ),
        case("decrypt str as int", &["decrypt", &retyped_int]),
        case("decrypt str as bool", &["decrypt", &retyped_bool]),
        case("decrypt str as time", &["decrypt", &retyped_time]),
        case("decrypt mac mismatch", &["decrypt", &mac_mismatch]),
        case("decrypt moved value", &["decrypt", &swapped]),
        case(
            "decrypt extract missing",
            &["decrypt", "--extract", "[\"db\"][\"nope\"]", &enc],
        ),
        case(
            "decrypt extract into a string",
            &[
                "decrypt",
                "--extract",
                "[\"db\"][\"password\"][\"x\"]",
                &enc,
            ],
        ),
        case(
            "decrypt bad extract path",
            &["decrypt", "--extract", "[\"db\"", &enc],
        ),
        case(
            "decrypt nested to dotenv",
            &["decrypt", "--output-type", "dotenv", &enc],
        ),
        case(
            "decrypt to unwritable output",
            &["decrypt", "--output", &unwritable, &enc],
        ),
        case(
            "set invalid json value",
            &[
                "set",
                &enc,
                "[\"db\"][\"password\"]",
                "\"hunter2-PLAINTEXT-new",
            ],
        ),
        case("unset missing", &["unset", &enc, "[\"db\"][\"nope\"]"]),
        case(
            "rotate to unwritable",
            &["rotate", "--output", &unwritable, &enc],
        ),
        case("exec-env failing child", &["exec-env", &enc, "exit 3"]),
        case("exec-file failing child", &["exec-file", &enc, "false {}"]),
        Case {
            env: vec![("EDITOR", editor_invalid)],
            ..case("edit writes invalid yaml", &["edit", &enc])
        },
        Case {
            env: vec![("EDITOR", editor_fails)],
            ..case("editor fails", &["edit", &enc])
        },
        Case {
            // A malformed private key must not be echoed back.
            env: vec![
                (
                    "SOPS_AGE_KEY",
                    "AGE-SECRET-KEY-1HUNTER2PLAINTEXTQQQQ".into(),
                ),
                ("SOPS_AGE_KEY_FILE", "/nonexistent".into()),
            ],
            ..case("decrypt with a malformed identity", &["decrypt", &enc])
        },
        Case {
            env: vec![("SOPS_AGE_KEY_FILE", age2)],
            ..case("decrypt wrong key", &["decrypt", &enc])
        },
        Case {
            stdin: b"password: [hunter2-PLAINTEXT\n".to_vec(),
            ..case(
                "encrypt bad stdin",
                &[
                    "encrypt",
                    "--age",
                    AGE1_RECIPIENT,
                    "--filename-override",
                    "x.yaml",
                ],
            )
        },
    ];
    // `-d` legacy spelling of a failing decrypt, too.
    cases.push(case("legacy -d mac mismatch", &["-d", &mac_mismatch]));
    cases
}

/// The editor's own stderr (`cat "$1" >&2`) is the editor's business, not a leak by rsops.
const CHILD_OUTPUT_ALLOWED: &[&str] = &["editor fails"];

#[test]
fn no_plaintext_in_any_error() {
    let s = Setup::new();
    let cases = error_cases(&s);
    let mut problems = Vec::new();
    for c in &cases {
        for verbose in [false, true] {
            let mut args = c.args.clone();
            if verbose {
                args.insert(0, "--verbose".to_string());
            }
            let key_file = support::age1_key_file();
            let mut env: Vec<(&str, &OsStr)> = vec![("SOPS_AGE_KEY_FILE", key_file.as_os_str())];
            for (k, v) in &c.env {
                env.retain(|(name, _)| name != k);
                env.push((k, OsStr::new(v)));
            }
            let run = run_rsops_with_stdin(&args, &env, &Limits::default(), Some(&c.stdin));
            let label = format!("{}{}", c.name, if verbose { " (--verbose)" } else { "" });
            let stderr = String::from_utf8_lossy(&run.stderr);
            let stdout = String::from_utf8_lossy(&run.stdout);
            match run.code {
                Some(0) => problems.push(format!("{label}: succeeded; stderr: {stderr}")),
                Some(101) | None => problems.push(format!("{label}: crashed: {stderr}")),
                Some(_) => {}
            }
            if !stdout.is_empty() {
                problems.push(format!("{label}: failed but wrote to stdout: {stdout}"));
            }
            if !CHILD_OUTPUT_ALLOWED.contains(&c.name) {
                for marker in PLAINTEXT_MARKERS.iter().chain(&["hunter2-", "HUNTER2"]) {
                    if stderr.contains(marker) {
                        problems.push(format!("{label}: `{marker}` in stderr: {stderr}"));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems in {} cases:\n{}",
        problems.len(),
        cases.len() * 2,
        problems.join("\n")
    );
}

/// What the scratch-file checks need: an encrypted file, a private TMPDIR and a private HOME
/// that must both end empty (a scratch copy must not land in either), and a place where the
/// "editor"/child records what it saw.
struct Scratch {
    s: Setup,
    tmpdir: tempfile::TempDir,
    home: tempfile::TempDir,
    record: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Setup::new();
        let record = s.dir.path().join("record");
        Scratch {
            s,
            tmpdir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
            record,
        }
    }

    /// A script that records the mode of its file argument and of that file's directory.
    fn recorder(&self, name: &str, then: &str) -> String {
        self.s.script(
            name,
            &format!(
                "f=\"$1\"; [ -z \"$f\" ] && f=\"$RSOPS_FILE\"\nstat -c '%a %F' \"$f\" \"$(dirname \"$f\")\" >> {}\n{then}",
                self.record.display()
            ),
        )
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> support::Run {
        let key_file = support::age1_key_file();
        let mut all: Vec<(&str, &OsStr)> = vec![
            ("SOPS_AGE_KEY_FILE", key_file.as_os_str()),
            ("TMPDIR", self.tmpdir.path().as_os_str()),
            ("HOME", self.home.path().as_os_str()),
        ];
        all.extend(env.iter().map(|(k, v)| (*k, OsStr::new(v))));
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        support::run_rsops(&args, &all, &Limits::default())
    }

    fn assert_clean(&self, label: &str) {
        for dir in [self.tmpdir.path(), self.home.path()] {
            let left: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect();
            assert!(left.is_empty(), "{label}: scratch left behind: {left:?}");
        }
        let record = std::fs::read_to_string(&self.record).unwrap_or_default();
        for line in record.lines() {
            assert!(
                line == "600 regular file" || line == "600 fifo" || line == "700 directory",
                "{label}: scratch with a loose mode: {line}"
            );
        }
        let _ = std::fs::remove_file(&self.record);
    }
}

#[test]
fn scratch_files_are_private_and_removed() {
    let sc = Scratch::new();
    let enc = sc.s.enc();
    let edit_ok = sc.recorder("ed-ok.sh", "sed -i 's/port: 5432/port: 5433/' \"$1\"");
    let edit_fail = sc.recorder("ed-fail.sh", "exit 4");
    let edit_invalid = sc.recorder("ed-invalid.sh", "echo 'a: [' > \"$1\"");
    let edit_same = sc.recorder("ed-same.sh", "true");
    // (label, editor, expected exit code)
    let edits = [
        ("edit ok", &edit_ok, 0),
        // sops: "Could not run editor: exit status 4", 201.
        ("edit editor fails", &edit_fail, 201),
        ("edit invalid result", &edit_invalid, 1),
        ("edit unchanged", &edit_same, 200),
    ];
    for (label, editor, code) in edits {
        let run = sc.run(&["edit", &enc], &[("EDITOR", editor)]);
        assert_eq!(
            run.code,
            Some(code),
            "{label}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        sc.assert_clean(label);
    }
    let record = sc.record.display().to_string();
    for (label, extra) in [
        ("exec-file fifo", vec![]),
        ("exec-file no-fifo", vec!["--no-fifo"]),
    ] {
        for (child, code) in [("true", 0), ("false", 1)] {
            let command = format!(
                "stat -c '%a %F' {{}} $(dirname {{}}) >> {record}; cat {{}} > /dev/null; {child}"
            );
            let mut args = vec!["exec-file"];
            args.extend(&extra);
            args.push(&enc);
            args.push(&command);
            let run = sc.run(&args, &[]);
            assert_eq!(
                run.code,
                Some(code),
                "{label}/{child}: {}",
                String::from_utf8_lossy(&run.stderr)
            );
            sc.assert_clean(label);
        }
    }
}

/// SIGTERM while the editor runs: rsops removes the scratch directory and exits 143.
#[test]
fn sigterm_during_edit_removes_scratch() {
    use std::time::{Duration, Instant};
    let sc = Scratch::new();
    let started = sc.s.dir.path().join("started");
    let editor = sc.s.script(
        "ed-slow.sh",
        &format!("touch {}; sleep 30", started.display()),
    );
    let mut child = std::process::Command::new(support::rsops_bin())
        .args(["edit", &sc.s.enc()])
        .env("SOPS_AGE_KEY_FILE", support::age1_key_file())
        .env("TMPDIR", sc.tmpdir.path())
        .env("HOME", sc.home.path())
        .env("EDITOR", &editor)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the editor never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    sc.assert_clean("sigterm during edit");
}

/// The limit rsops sets at startup is inherited by what it runs: the editor sees no core dumps.
#[test]
fn core_dumps_are_off_for_the_process_and_its_children() {
    let sc = Scratch::new();
    let out = sc.s.dir.path().join("limits");
    let editor = sc.s.script(
        "ed-limits.sh",
        &format!(
            "ulimit -c > {out}; grep 'core file' /proc/$PPID/limits >> {out}; exit 9",
            out = out.display()
        ),
    );
    sc.run(&["edit", &sc.s.enc()], &[("EDITOR", &editor)]);
    let seen = std::fs::read_to_string(&out).unwrap();
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("0"), "{seen}");
    let parent = lines.next().unwrap();
    assert!(
        parent.split_whitespace().nth(4) == Some("0"),
        "rsops's own soft core limit is not 0: {parent}"
    );
}

/// A file name (`--filename`) or a TMPDIR with shell syntax in it is one word to the command's
/// shell: `{}` never runs anything of its own, in either mode.
#[test]
fn exec_file_path_is_never_shell_code() {
    let s = Setup::new();
    let enc = s.enc();
    let work = s.dir.path().join("work");
    let tmpdir = s.dir.path().join("t;touch PWNED-by-tmpdir");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&tmpdir).unwrap();
    let command = format!(
        "cd '{}' && test -e {{}} && echo seen {{}} && cat {{}} > /dev/null",
        work.display()
    );
    for extra in [vec![], vec!["--no-fifo"]] {
        let mut args = vec!["exec-file", "--filename", "x;touch PWNED-by-name"];
        args.extend(&extra);
        args.extend([enc.as_str(), command.as_str()]);
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env = [
            ("SOPS_AGE_KEY_FILE", support::age1_key_file()),
            ("TMPDIR", tmpdir.clone().into_os_string()),
        ];
        let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        let run = support::run_rsops(&args, &env, &Limits::default());
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert_eq!(
            run.code,
            Some(0),
            "{extra:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(stdout.ends_with("/x;touch PWNED-by-name\n"), "{stdout}");
        let ran: Vec<_> = std::fs::read_dir(&work).unwrap().flatten().collect();
        assert!(ran.is_empty(), "{extra:?}: the path ran as code: {ran:?}");
    }
}

/// `exec-file --user nobody` (run as root): the command, as nobody, reads the plaintext in both
/// modes; the directory is nobody's, 0700, and a third user cannot enter it.
#[test]
fn exec_file_as_another_user() {
    use std::io::BufRead;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: exec-file --user needs root");
        return;
    }
    let sc = Scratch::new();
    let enc = sc.s.enc();
    let command = "d=$(dirname {}); echo \"$d\"; id -un; grep -c hunter2-PLAINTEXT {}; \
                   i=0; while [ ! -e \"$d/go\" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done";
    for extra in [vec![], vec!["--no-fifo"]] {
        let mut child = std::process::Command::new(support::rsops_bin())
            .args(["exec-file", "--user", "nobody"])
            .args(&extra)
            .args([&enc, command])
            .env("SOPS_AGE_KEY_FILE", support::age1_key_file())
            .env("TMPDIR", sc.tmpdir.path())
            .env("HOME", sc.home.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = || lines.next().and_then(Result::ok).unwrap_or_default();
        let dir = PathBuf::from(next());
        let (user, count) = (next(), next());
        let meta = std::fs::symlink_metadata(&dir);
        let third = std::process::Command::new("ls")
            .arg(&dir)
            .uid(54321)
            .gid(54321)
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::write(dir.join("go"), "");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{extra:?}");
        assert_eq!(
            (user.as_str(), count.as_str()),
            ("nobody", "2"),
            "{extra:?}"
        );
        let meta = meta.unwrap();
        assert_eq!(
            (meta.uid(), meta.mode() & 0o777),
            (65534, 0o700),
            "{extra:?}"
        );
        assert!(
            !third.unwrap().success(),
            "{extra:?}: a third user listed the directory"
        );
        sc.assert_clean("exec-file --user");
    }
}

/// `rsops edit` with an editor that records its file (and its own pid) in `marker`, then sleeps.
fn start_slow_edit(sc: &Scratch, marker: &std::path::Path) -> std::process::Child {
    let editor = sc.s.script(
        "ed-record.sh",
        &format!(
            "printf '%s\\n%s\\n' \"$1\" $$ > {m}.tmp; mv {m}.tmp {m}; exec sleep 30",
            m = marker.display()
        ),
    );
    std::process::Command::new(support::rsops_bin())
        .args(["edit", &sc.s.enc()])
        .env("SOPS_AGE_KEY_FILE", support::age1_key_file())
        .env("TMPDIR", sc.tmpdir.path())
        .env("HOME", sc.home.path())
        .env("EDITOR", &editor)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits (bounded) for `marker`; returns the file it names and the pid of the editor.
fn wait_for_marker(marker: &std::path::Path) -> (PathBuf, i32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(marker) {
            let mut lines = text.lines();
            let file = PathBuf::from(lines.next().unwrap());
            return (file, lines.next().unwrap().parse().unwrap());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the editor never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn kill(pid: i32, signal: rustix::process::Signal) {
    let _ = rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), signal);
}

/// Waits up to `secs` for `child`; kills it and returns `None` when it is still running.
fn wait_bounded(child: &mut std::process::Child, secs: u64) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Every catchable signal whose default action ends a process (not only INT/TERM/HUP) removes
/// the editor's plaintext and ends rsops with 128 + signal.
#[test]
fn every_terminating_signal_during_edit_removes_scratch() {
    use rustix::process::Signal;
    for signal in [
        Signal::QUIT,
        Signal::USR1,
        Signal::USR2,
        Signal::PIPE,
        Signal::ALARM,
        Signal::HUP,
    ] {
        let sc = Scratch::new();
        let marker = sc.s.dir.path().join("marker");
        let mut child = start_slow_edit(&sc, &marker);
        let (file, editor) = wait_for_marker(&marker);
        assert!(file.exists());
        kill(child.id() as i32, signal);
        let status = wait_bounded(&mut child, 20);
        kill(editor, Signal::KILL);
        let code = status.and_then(|s| s.code());
        assert_eq!(code, Some(128 + signal.as_raw()), "{signal:?}");
        sc.assert_clean(&format!("{signal:?} during edit"));
    }
}

/// SIGKILL cannot be caught: the next run that makes a scratch directory removes the one of the
/// dead process (and leaves a live process's alone).
#[test]
fn the_next_run_sweeps_what_sigkill_left() {
    use rustix::process::Signal;
    let sc = Scratch::new();
    let marker = sc.s.dir.path().join("marker");
    let mut killed = start_slow_edit(&sc, &marker);
    let (file, editor) = wait_for_marker(&marker);
    kill(killed.id() as i32, Signal::KILL);
    killed.wait().unwrap();
    kill(editor, Signal::KILL);
    assert!(file.exists(), "SIGKILL cannot be cleaned up after, yet");
    let live = sc
        .tmpdir
        .path()
        .join(format!(".rsops-{}-live", std::process::id()));
    std::fs::create_dir(&live).unwrap();
    let run = sc.run(&["exec-file", &sc.s.enc(), "true"], &[]);
    assert_eq!(
        run.code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        !file.parent().unwrap().exists(),
        "the dead run's plaintext is still there"
    );
    assert!(live.exists(), "a live process's directory was swept");
    std::fs::remove_dir(&live).unwrap();
    sc.assert_clean("after the sweep");
}

/// rsops killed with SIGKILL before its command opens the FIFO: the command is not left blocked
/// forever on a FIFO that will never get a writer, and the FIFO's directory goes with it.
#[test]
fn a_fifo_reader_outlives_a_killed_rsops_by_seconds() {
    use rustix::process::Signal;
    let sc = Scratch::new();
    let dir = sc.s.dir.path();
    let (started, done) = (dir.join("started"), dir.join("done"));
    let command = format!(
        "echo {{}} > {s}.tmp; mv {s}.tmp {s}; sleep 1; cat {{}} > /dev/null; touch {d}",
        s = started.display(),
        d = done.display()
    );
    let mut child = std::process::Command::new(support::rsops_bin())
        .args(["exec-file", &sc.s.enc(), &command])
        .env("SOPS_AGE_KEY_FILE", support::age1_key_file())
        .env("TMPDIR", sc.tmpdir.path())
        .env("HOME", sc.home.path())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !started.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the command never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let fifo = PathBuf::from(std::fs::read_to_string(&started).unwrap().trim());
    kill(child.id() as i32, Signal::KILL);
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let finished = done.exists();
    if !finished {
        // Unblock the reader ourselves, so a failing run leaves no process behind.
        let flags = rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::NONBLOCK;
        let _ = rustix::fs::open(&fifo, flags, rustix::fs::Mode::empty());
    }
    assert!(finished, "the command is still blocked on the FIFO");
    while fifo.parent().unwrap().exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sc.assert_clean("fifo after SIGKILL");
}

/// rsops catches SIGPIPE now, but a command that stops reading the FIFO early (its own write
/// gets EPIPE) is no reason to stop: the command's exit code is rsops's.
#[test]
fn a_reader_closing_the_fifo_early_is_not_a_signal() {
    let sc = Scratch::new();
    let big = format!("big: {}\n", "x".repeat(1 << 20));
    let plain = sc.s.file("big.yaml", &big);
    let enc = support::rsops_ok(&["encrypt", "--age", AGE1_RECIPIENT, &plain], &[]);
    let enc = sc.s.file("big.enc.yaml", &String::from_utf8(enc).unwrap());
    let run = sc.run(
        &[
            "exec-file",
            &enc,
            "head -c 10 {} > /dev/null; sleep 0.3; exit 3",
        ],
        &[],
    );
    assert_eq!(
        run.code,
        Some(3),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    sc.assert_clean("early close");
}
