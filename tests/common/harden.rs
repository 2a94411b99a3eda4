//! Shared by the hardening tests (bad input, crash safety, hygiene): running the rsops binary
//! under a deadline and a memory limit, and a valid encrypted fixture to break.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// keys/age1.txt's public key (test-only key, see keys/README.md).
pub const AGE1_RECIPIENT: &str = "age14razmsckj3l3lk4l0t6rh84cgd5w37acf77540hk74x7v3ed9elqhq54uz";

/// Distinctive plaintext in the fixture: none of it may ever show up where it should not.
pub const PLAINTEXT_MARKERS: &[&str] = &[
    "hunter2-PLAINTEXT",
    "s3cr3t-user-PLAINTEXT",
    "comment-PLAINTEXT",
];

pub const FIXTURE_PLAIN: &str = "db:
    user: s3cr3t-user-PLAINTEXT
    password: hunter2-PLAINTEXT
    # comment-PLAINTEXT
    port: 5432
    ratio: 0.5
    on: true
list:
    - hunter2-PLAINTEXT-in-list
";

pub use super::repo_root as repo;

pub fn rsops_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsops"))
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub deadline: Duration,
    /// Address-space limit (`ulimit -v`), in MiB.
    pub memory_mib: u64,
    /// Run as `nobody` when the tests run as root (root ignores file permissions).
    pub unprivileged: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(60),
            memory_mib: 2048,
            unprivileged: false,
        }
    }
}

impl Limits {
    /// For inputs of about 1 GiB: memory proportional to the input is fine, unbounded is not.
    pub fn huge() -> Limits {
        Limits {
            deadline: Duration::from_secs(300),
            memory_mib: 6144,
            unprivileged: false,
        }
    }
}

pub struct Run {
    /// `None` when a signal ended the process.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
}

/// Runs rsops with `args` and only the given extra environment (plus PATH/HOME/TMPDIR), under
/// `limits`. Output goes to files, so a chatty child cannot block on a full pipe.
pub fn run_rsops(args: &[String], env: &[(&str, &OsStr)], limits: &Limits) -> Run {
    run_rsops_with_stdin(args, env, limits, None)
}

pub fn run_rsops_with_stdin(
    args: &[String],
    env: &[(&str, &OsStr)],
    limits: &Limits,
    stdin: Option<&[u8]>,
) -> Run {
    use std::os::unix::process::ExitStatusExt;
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("stdout");
    let err_path = out_dir.path().join("stderr");
    let in_path = out_dir.path().join("stdin");
    std::fs::write(&in_path, stdin.unwrap_or_default()).unwrap();
    let script = format!("ulimit -v {} && exec \"$@\"", limits.memory_mib * 1024);
    let mut command = if limits.unprivileged && rustix::process::geteuid().is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
        ]);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c");
        c
    };
    command
        .arg(script)
        .arg("rsops-under-limits")
        .arg(rsops_bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", out_dir.path())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .stdin(std::fs::File::open(&in_path).unwrap())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        command.env("TMPDIR", tmp);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn rsops");
    let started = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status, false);
        }
        if started.elapsed() > limits.deadline {
            let _ = child.kill();
            break (child.wait().unwrap(), true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        signal: status.signal(),
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
        timed_out,
    }
}

/// Runs rsops expecting success; panics with its stderr otherwise.
pub fn rsops_ok(args: &[&str], env: &[(&str, &OsStr)]) -> Vec<u8> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let run = run_rsops(&args, env, &Limits::default());
    assert_eq!(
        run.code,
        Some(0),
        "rsops {args:?} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    run.stdout
}

pub fn age1_key_file() -> OsString {
    repo().join("keys/age1.txt").into_os_string()
}

/// The fixture encrypted by rsops for keys/age1.txt (YAML).
pub fn encrypt_fixture() -> String {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("fixture.yaml");
    std::fs::write(&plain, FIXTURE_PLAIN).unwrap();
    let out = rsops_ok(
        &["encrypt", "--age", AGE1_RECIPIENT, plain.to_str().unwrap()],
        &[],
    );
    String::from_utf8(out).unwrap()
}
