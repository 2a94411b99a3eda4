//! The one test harness (every suite in tests/ uses it): where the two binaries are, sandboxes
//! that hold exactly the keys a case allows, running a tool, and collecting every failure of a
//! family before reporting; `harden`, `k8s` and `lab` add what their suites need.
//!
//! Originally the interop suites' harness: where the two binaries are, sandboxes that hold exactly
//! the keys a case allows, running a tool, and collecting every failure of a family before
//! reporting.
//!
//! The binary under test is `rsops` unless `RSOPS_UNDER_TEST` names another one. Setting it to the
//! real sops (`RSOPS_UNDER_TEST=.tools/bin/sops cargo test --test vectors --test interop --test
//! negative`) self-checks the suites: every test must then pass, which proves the expectations
//! are sops's behaviour and not guesses. Add `--no-fail-fast` to see every suite's report, and
//! `-- --nocapture` to see the case counts. `RSOPS_TEST_VERBOSE=1` makes tests/negative.rs print
//! sops's exit code for every case.
#![allow(dead_code)] // each test crate uses a different part of the harness

/// moto (AWS KMS) and a request-counting proxy in front of it (scripts/kms-proxy.py).
#[cfg(feature = "aws-kms")]
pub mod cloud;
/// Running the binary under deadlines and memory limits, and a fixture to break (bad input,
/// crash safety, hygiene, write safety).
pub mod harden;
/// The real sops/helm/kubectl from `.tools` and encrypted fixtures for the Kubernetes suites.
pub mod k8s;
/// A private working directory per workflow test with only the keys it names.
pub mod lab;
/// moto and OpenBao on free ports, killed on drop.
#[cfg(feature = "aws-kms")]
pub mod services;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn inputs_dir() -> PathBuf {
    repo_root().join("testdata/inputs")
}

pub fn vectors_dir() -> PathBuf {
    repo_root().join("testdata/vectors")
}

/// One of the two programs a test runs.
#[derive(Clone, Debug)]
pub struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
}

/// The real sops: `SOPS_BIN`, else `.tools/bin/sops` in the repository. Missing is an error, never
/// a skip: a suite that silently skips proves nothing.
pub fn sops() -> Tool {
    let path = std::env::var_os("SOPS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/bin/sops"));
    assert!(
        path.is_file(),
        "sops not found at {} (set SOPS_BIN or run scripts/install-test-tools.sh)",
        path.display()
    );
    Tool { name: "sops", path }
}

/// The binary under test: rsops, or whatever `RSOPS_UNDER_TEST` names (see the module doc).
pub fn rsops() -> Tool {
    let path = match std::env::var_os("RSOPS_UNDER_TEST") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_relative() {
                repo_root().join(p)
            } else {
                p
            }
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_rsops")),
    };
    assert!(
        path.is_file(),
        "binary under test not found at {}",
        path.display()
    );
    Tool {
        name: "rsops",
        path,
    }
}

/// A test key from keys/ (see keys/README.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Age1,
    Age2,
    PgpRsa,
    PgpEd25519,
}

pub const PGP_RSA_FP: &str = "1BA4BB945673E83C054AF26813DC73C8F49DE51A";
pub const PGP_ED25519_FP: &str = "B3E82AFFABA9BC4FEB82341074F6E68C852E6B18";

impl Key {
    pub const ALL: [Key; 4] = [Key::Age1, Key::Age2, Key::PgpRsa, Key::PgpEd25519];

    /// The names used in testdata/vectors/manifest.tsv.
    pub fn parse(name: &str) -> Key {
        match name {
            "age1" => Key::Age1,
            "age2" => Key::Age2,
            "pgp_rsa" => Key::PgpRsa,
            "pgp_ed25519" => Key::PgpEd25519,
            other => panic!("unknown key name {other:?}"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Key::Age1 => "age1",
            Key::Age2 => "age2",
            Key::PgpRsa => "pgp_rsa",
            Key::PgpEd25519 => "pgp_ed25519",
        }
    }

    pub fn is_age(self) -> bool {
        matches!(self, Key::Age1 | Key::Age2)
    }

    /// The age recipient or the PGP fingerprint, as given to `--age`/`--pgp`.
    pub fn recipient(self) -> String {
        match self {
            Key::Age1 | Key::Age2 => {
                let text = std::fs::read_to_string(self.secret_file()).expect("read age key");
                text.lines()
                    .find_map(|l| l.strip_prefix("# public key: "))
                    .expect("age key file has a public key line")
                    .trim()
                    .to_string()
            }
            Key::PgpRsa => PGP_RSA_FP.to_string(),
            Key::PgpEd25519 => PGP_ED25519_FP.to_string(),
        }
    }

    /// The sops flag that names this key as a recipient.
    pub fn flag(self) -> &'static str {
        if self.is_age() {
            "--age"
        } else {
            "--pgp"
        }
    }

    fn secret_file(self) -> PathBuf {
        let name = match self {
            Key::Age1 => "age1.txt",
            Key::Age2 => "age2.txt",
            Key::PgpRsa => "pgp_rsa.sec.asc",
            Key::PgpEd25519 => "pgp_ed25519.sec.asc",
        };
        repo_root().join("keys").join(name)
    }
}

/// A private scratch world: its own HOME, a GNUPGHOME holding exactly `keys`' PGP secret keys, an
/// age key file holding exactly `keys`' age identities, and a work dir. Nothing of the user's
/// environment (SOPS_* variables, ~/.config/sops, ~/.gnupg) reaches the tools.
pub struct Sandbox {
    dir: TempDir,
    keys: BTreeSet<Key>,
}

impl Sandbox {
    pub fn new(keys: &[Key]) -> Sandbox {
        // Short path: gpg-agent's socket path must stay under ~100 bytes.
        let dir = tempfile::Builder::new()
            .prefix("rt")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let sandbox = Sandbox {
            dir,
            keys: keys.iter().copied().collect(),
        };
        for sub in ["h", "w"] {
            std::fs::create_dir(sandbox.dir.path().join(sub)).expect("mkdir");
        }
        sandbox.make_gnupg_home();
        sandbox.make_age_file();
        sandbox
    }

    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.keys.iter().copied()
    }

    /// Where tests put their files (the cwd of every command unless told otherwise).
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("w")
    }

    fn gnupg_home(&self) -> PathBuf {
        self.dir.path().join("g")
    }

    fn age_file(&self) -> PathBuf {
        self.dir.path().join("age.txt")
    }

    fn make_gnupg_home(&self) {
        let home = self.gnupg_home();
        std::fs::create_dir(&home).expect("mkdir gnupg home");
        set_private(&home);
        for key in self.keys.iter().filter(|k| !k.is_age()) {
            let out = Command::new("gpg")
                .arg("--homedir")
                .arg(&home)
                .args(["--batch", "--quiet", "--import"])
                .arg(key.secret_file())
                .stdin(Stdio::null())
                .output()
                .expect("run gpg --import");
            assert!(
                out.status.success(),
                "gpg --import {} failed: {}",
                key.name(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn make_age_file(&self) {
        let mut text = String::new();
        for key in self.keys.iter().filter(|k| k.is_age()) {
            text.push_str(&std::fs::read_to_string(key.secret_file()).expect("read age key"));
        }
        std::fs::write(self.age_file(), text).expect("write age key file");
    }

    /// A command for `tool` with the sandbox's environment, run in `cwd`.
    pub fn command(&self, tool: &Tool, cwd: &Path) -> Command {
        let mut cmd = Command::new(&tool.path);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SOPS_") {
                cmd.env_remove(name);
            }
        }
        let home = self.dir.path().join("h");
        cmd.current_dir(cwd)
            .stdin(Stdio::null())
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("GNUPGHOME", self.gnupg_home());
        if self.keys.iter().any(|k| k.is_age()) {
            cmd.env("SOPS_AGE_KEY_FILE", self.age_file());
        }
        cmd
    }

    /// Runs `tool args…` in the work dir.
    pub fn run<S: AsRef<OsStr>>(&self, tool: &Tool, args: &[S]) -> Outcome {
        self.run_in(tool, &self.work(), args, &[])
    }

    /// Runs `tool args…` in `cwd` with extra environment variables.
    pub fn run_in<S: AsRef<OsStr>>(
        &self,
        tool: &Tool,
        cwd: &Path,
        args: &[S],
        env: &[(&str, &str)],
    ) -> Outcome {
        let mut cmd = self.command(tool, cwd);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let shown = describe(tool, args);
        let started = std::time::Instant::now();
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
        let took = started.elapsed();
        if took > std::time::Duration::from_secs(2) {
            eprintln!("slow: {shown} took {took:?}");
        }
        Outcome::new(shown, out)
    }

    /// Writes `bytes` as `name` into the work dir and returns its path.
    pub fn put(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.work().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, bytes).expect("write file");
        path
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Only an agent started for this home is stopped; others are left alone.
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.gnupg_home())
            .args(["--kill", "gpg-agent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn set_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
}

fn describe<S: AsRef<OsStr>>(tool: &Tool, args: &[S]) -> String {
    let mut s = tool.name.to_string();
    for a in args {
        let a = a.as_ref().to_string_lossy();
        let a = shlex::try_quote(&a)
            .map(|q| q.into_owned())
            .unwrap_or(a.into_owned());
        s.push(' ');
        s.push_str(&a);
    }
    s
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub command: String,
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Outcome {
    fn new(command: String, out: Output) -> Outcome {
        // A signal is not an exit code sops could produce; -1 keeps it visible in reports.
        let code = out.status.code().unwrap_or(-1);
        Outcome {
            command,
            code,
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// A short description for failure reports: command, exit code and the start of stderr.
    pub fn summary(&self) -> String {
        let err = String::from_utf8_lossy(&self.stderr);
        let err: String = err.trim().chars().take(300).collect();
        format!("`{}` exited {} (stderr: {})", self.command, self.code, err)
    }
}

/// Collects failures of one family so a run reports all of them at once.
pub struct Report {
    family: String,
    cases: usize,
    failures: Vec<String>,
}

impl Report {
    pub fn new(family: &str) -> Report {
        Report {
            family: family.to_string(),
            cases: 0,
            failures: Vec::new(),
        }
    }

    /// Counts one case; `result` is Err(reason) when it failed.
    pub fn case(&mut self, name: &str, result: Result<(), String>) {
        self.cases += 1;
        if let Err(reason) = result {
            self.failures.push(format!("{name}: {reason}"));
        }
    }

    pub fn cases(&self) -> usize {
        self.cases
    }

    /// Prints the count (the CI log shows it) and panics with every failure, if any.
    pub fn finish(self) {
        finish_all(vec![self]);
    }

    /// The count line, and the failure list when something failed.
    fn summarize(&self) -> (String, Option<String>) {
        let count = format!(
            "{}: {} cases, {} failed",
            self.family,
            self.cases,
            self.failures.len()
        );
        if self.cases == 0 {
            return (count, Some(format!("{}: no cases ran", self.family)));
        }
        if self.failures.is_empty() {
            return (count, None);
        }
        let mut msg = format!(
            "{}: {} of {} cases failed:\n",
            self.family,
            self.failures.len(),
            self.cases
        );
        for f in &self.failures {
            let _ = writeln!(msg, "- {f}");
        }
        (count, Some(msg))
    }
}

/// Prints every family's count, then fails once with the failures of all of them.
pub fn finish_all(reports: Vec<Report>) {
    let mut failed = Vec::new();
    for report in &reports {
        let (count, failures) = report.summarize();
        eprintln!("{count}");
        failed.extend(failures);
    }
    assert!(failed.is_empty(), "\n{}", failed.join("\n"));
}

/// Ok when `actual` equals `expected`, else a short account of the first difference.
pub fn compare_bytes(what: &str, expected: &[u8], actual: &[u8]) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "{what} differs: {}",
        diff_summary(expected, actual)
    ))
}

/// Where two outputs first differ: byte offset, line number and both lines (escaped, cut short).
pub fn diff_summary(expected: &[u8], actual: &[u8]) -> String {
    let at = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    let line_no = expected[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let line_of = |bytes: &[u8]| {
        let start = bytes[..at.min(bytes.len())]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| start + p);
        let text: String = bytes[start..end].escape_ascii().to_string();
        text.chars().take(160).collect::<String>()
    };
    format!(
        "{} vs {} bytes, first difference at byte {at} (line {line_no}): expected `{}`, got `{}`",
        expected.len(),
        actual.len(),
        line_of(expected),
        line_of(actual)
    )
}

/// Ok when `out` exited `code` with nothing on stdout (how every failure must look).
pub fn expect_failure(out: &Outcome, code: i32) -> Result<(), String> {
    if out.code != code {
        return Err(format!("expected exit {code}: {}", out.summary()));
    }
    if !out.stdout.is_empty() {
        return Err(format!(
            "exit {} as expected but wrote {} bytes to stdout",
            out.code,
            out.stdout.len()
        ));
    }
    Ok(())
}

/// Ok when `out` succeeded and printed exactly `expected`.
pub fn expect_output(out: &Outcome, expected: &[u8]) -> Result<(), String> {
    if !out.ok() {
        return Err(out.summary());
    }
    compare_bytes("stdout", expected, &out.stdout)
}

/// The file extension that makes sops pick `format` (binary: anything else).
pub fn extension(format: &str) -> &'static str {
    match format {
        "yaml" => "yaml",
        "json" => "json",
        "dotenv" => "env",
        "ini" => "ini",
        _ => "bin",
    }
}

/// A random generator for `test`, seeded from `RSOPS_TEST_SEED` when set (to replay a failure)
/// and from the OS otherwise; the seed is always printed, so a failing run names it.
pub fn seeded_rng(test: &str) -> rand::rngs::StdRng {
    use rand::SeedableRng;
    let seed = match std::env::var("RSOPS_TEST_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("RSOPS_TEST_SEED={text:?} is not a u64")),
        Err(_) => rand::random::<u64>(),
    };
    eprintln!("{test}: RSOPS_TEST_SEED={seed} (set it to replay this run)");
    rand::rngs::StdRng::seed_from_u64(seed)
}
