//! A private working directory per test, and running rsops and the real sops in it with only
//! the keys the test names (no key variables or config from the caller leak in).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

/// Variables that would let a tool find keys or a config other than the test's own.
const SCRUBBED: [&str; 16] = [
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_RECIPIENTS",
    "SOPS_PGP_FP",
    "SOPS_GPG_EXEC",
    "SOPS_CONFIG",
    "SOPS_DECRYPTION_ORDER",
    "SOPS_EDITOR",
    "EDITOR",
    "GNUPGHOME",
    "RSOPS_PGP_PUBLIC_KEYS",
    "RSOPS_PGP_SECRET_KEYS",
    "SOPS_KMS_ARN",
    "XDG_CONFIG_HOME",
];

#[derive(Clone, Copy, Debug)]
pub enum Tool {
    Rsops,
    Sops,
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The real sops: `$SOPS_BIN`, else `.tools/bin/sops` in the repository (scripts/install-test-tools.sh).
pub fn sops_bin() -> PathBuf {
    let path = std::env::var_os("SOPS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_path(".tools/bin/sops"));
    assert!(
        path.is_file(),
        "the real sops is missing at {}: run scripts/install-test-tools.sh or set SOPS_BIN",
        path.display()
    );
    path
}

pub fn key_file(name: &str) -> String {
    repo_path("keys").join(name).to_str().unwrap().to_string()
}

/// The `# public key:` line of an age identity file.
pub fn age_public_of(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap_or_else(|| panic!("no public key line in {path}"))
        .to_string()
}

pub fn age1() -> String {
    age_public_of(&key_file("age1.txt"))
}

pub fn age2() -> String {
    age_public_of(&key_file("age2.txt"))
}

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "failed: {}", self.stderr);
        self
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).unwrap()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: o.stdout,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub struct Lab {
    pub dir: TempDir,
    gnupg: Option<PathBuf>,
}

impl Lab {
    pub fn new() -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("rsops-wf")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        Lab { dir, gnupg: None }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn p(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    pub fn read_str(&self, name: &str) -> String {
        String::from_utf8(self.read(name)).unwrap()
    }

    pub fn copy(&self, from: &str, to: &str) {
        std::fs::copy(self.path(from), self.path(to)).unwrap();
    }

    /// Writes an executable `sh` script (e.g. a scripted `$EDITOR`) and returns its path.
    pub fn script(&self, name: &str, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        self.write(name, format!("#!/bin/sh\n{body}"));
        std::fs::set_permissions(self.path(name), std::fs::Permissions::from_mode(0o755)).unwrap();
        self.p(name)
    }

    /// A fresh GnuPG home holding the RSA test key (public and secret).
    pub fn with_gnupg(&mut self) -> String {
        let home = self.path("gnupg");
        std::fs::create_dir(&home).unwrap();
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--import", &key_file("pgp_rsa.sec.asc")])
            .output()
            .expect("gpg is installed");
        assert!(out.status.success(), "gpg --import failed");
        self.gnupg = Some(home.clone());
        home.to_str().unwrap().to_string()
    }

    /// A command for `tool` run in the lab with a clean key environment.
    pub fn command(&self, tool: Tool) -> Command {
        self.command_for(match tool {
            Tool::Rsops => PathBuf::from(env!("CARGO_BIN_EXE_rsops")),
            Tool::Sops => sops_bin(),
        })
    }

    /// Any program (git, which runs rsops as its filter and merge driver) in the lab, with the
    /// same clean key environment.
    pub fn command_for(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("SOPS_DISABLE_VERSION_CHECK", "1");
        if let Some(home) = &self.gnupg {
            cmd.env("GNUPGHOME", home);
        }
        cmd
    }

    pub fn run_with(&self, tool: Tool, args: &[&str], envs: &[(&str, &str)], stdin: &[u8]) -> Run {
        let mut child = self
            .command(tool)
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A child that exits without reading stdin closes the pipe; that is fine.
        let _ = child.stdin.take().unwrap().write_all(stdin);
        child.wait_with_output().unwrap().into()
    }

    pub fn run(&self, tool: Tool, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.run_with(tool, args, envs, b"")
    }

    pub fn rsops(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.run(Tool::Rsops, args, envs)
    }

    pub fn sops(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.run(Tool::Sops, args, envs)
    }

    /// `decrypt FILE` with the identities of the given age key files.
    pub fn decrypt_with(&self, tool: Tool, file: &str, age_key_file: &str) -> Run {
        self.run(
            tool,
            &["decrypt", file],
            &[("SOPS_AGE_KEY_FILE", age_key_file)],
        )
    }

    /// Concatenates age identity files into one key file in the lab.
    pub fn age_keys(&self, name: &str, files: &[&str]) -> String {
        let all: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        self.write(name, all);
        self.p(name)
    }

    /// A new age identity made with `age-keygen`; returns (identity file, public key).
    pub fn age_keygen(&self, name: &str) -> (String, String) {
        let out = Command::new("age-keygen")
            .args(["-o", &self.p(name)])
            .output()
            .expect("age-keygen is installed");
        assert!(out.status.success(), "age-keygen failed");
        let public = age_public_of(&self.p(name));
        (self.p(name), public)
    }

    /// Encrypts `plain` (a file in the lab) with sops for `--age` recipients into `out`.
    pub fn sops_encrypt_age(&self, plain: &str, out: &str, recipients: &str) {
        let run = self
            .sops(&["encrypt", "--age", recipients, plain], &[])
            .ok();
        self.write(out, run.stdout);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(home) = &self.gnupg {
            let _ = Command::new("gpgconf")
                .env("GNUPGHOME", home)
                .args(["--kill", "gpg-agent"])
                .output();
        }
    }
}

/// The lines of an encrypted file that differ, ignoring `lastmodified` and `mac`.
pub fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    let skip = |l: &&str| {
        let t = l.trim_start();
        !(t.starts_with("lastmodified:") || t.starts_with("mac:"))
    };
    let a: Vec<&str> = before.lines().filter(skip).collect();
    let b: Vec<&str> = after.lines().filter(skip).collect();
    assert_eq!(
        a.len(),
        b.len(),
        "line count changed:\n{before}\n---\n{after}"
    );
    a.iter()
        .zip(&b)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect()
}

/// The `iv:` of every `ENC[…]` value, in file order.
pub fn ivs(text: &str) -> Vec<String> {
    text.split("ENC[AES256_GCM,")
        .skip(1)
        .filter_map(|s| {
            s.split(',')
                .find_map(|f| f.strip_prefix("iv:"))
                .map(str::to_string)
        })
        .collect()
}

/// The value of every `ENC[…]` minus its IV, in file order.
pub fn payloads(text: &str) -> Vec<String> {
    text.split("ENC[AES256_GCM,")
        .skip(1)
        .filter_map(|s| s.split(',').find_map(|f| f.strip_prefix("data:")))
        .map(str::to_string)
        .collect()
}

/// The line with a given prefix (trimmed), e.g. `lastmodified:`.
pub fn line_of(text: &str, prefix: &str) -> String {
    text.lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line"))
        .to_string()
}
