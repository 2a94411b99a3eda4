//! The README's quickstarts, run verbatim so they cannot rot: every ```sh block right after a
//! `<!-- quickstart-test -->` line runs with `sh -e`, in order, in one fresh HOME (so a fresh
//! ~/.gnupg and ~/.config/sops) and one git repository, with `rsops` and `.tools/bin` on PATH.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

const MARKER: &str = "<!-- quickstart-test -->";

/// The bodies of the marked blocks. A marker not followed by a ```sh block is an error, so a
/// marked block cannot silently drop out of the test.
fn quickstart_blocks(readme: &str) -> Result<Vec<String>, String> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    for (at, _) in lines.iter().enumerate().filter(|(_, l)| l.trim() == MARKER) {
        let fence = lines[at + 1..].iter().position(|l| !l.trim().is_empty());
        let fence = fence.map(|p| at + 1 + p);
        if fence.map(|f| lines[f].trim()) != Some("```sh") {
            return Err(format!(
                "line {}: {MARKER} is not followed by a ```sh block",
                at + 1
            ));
        }
        let start = fence.unwrap_or_default() + 1;
        let len = lines[start..]
            .iter()
            .position(|l| l.trim_start().starts_with("```"))
            .ok_or_else(|| format!("line {}: the block is never closed", start))?;
        let mut body = lines[start..start + len].join("\n");
        body.push('\n');
        blocks.push(body);
    }
    Ok(blocks)
}

/// A fresh user: HOME, a work dir that is a git repository, and a bin dir holding `rsops`.
struct Newcomer {
    dir: TempDir,
}

impl Newcomer {
    fn new() -> Newcomer {
        // Short path: gpg-agent's socket lives under HOME/.gnupg and must stay under ~100 bytes.
        let dir = tempfile::Builder::new()
            .prefix("rq")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let newcomer = Newcomer { dir };
        for sub in ["h", "w", "bin"] {
            std::fs::create_dir(newcomer.path(sub)).expect("mkdir");
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rsops"), newcomer.path("bin/rsops"))
            .expect("symlink rsops");
        let out = newcomer.sh("git init -q .\n");
        assert!(out.status.success(), "git init: {}", show(&out));
        newcomer
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// Runs `script` with `sh -e` in the work dir, with nothing of the caller's environment but
    /// the system PATH (for age, gpg, git, awk).
    fn sh(&self, script: &str) -> Output {
        let file = self.path("block.sh");
        std::fs::write(&file, script).expect("write block");
        let system_path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
        let path = format!(
            "{}:{}:{system_path}",
            self.path("bin").display(),
            common::repo_root().join(".tools/bin").display()
        );
        let home = self.path("h");
        Command::new("sh")
            .arg("-e")
            .arg(&file)
            .current_dir(self.path("w"))
            .env_clear()
            .env("PATH", path)
            .env("HOME", &home)
            .env("TMPDIR", self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .envs(git_identity())
            .stdin(Stdio::null())
            .output()
            .expect("run sh")
    }
}

fn git_identity() -> [(&'static str, &'static str); 4] {
    [
        ("GIT_AUTHOR_NAME", "Newcomer"),
        ("GIT_AUTHOR_EMAIL", "newcomer@example.org"),
        ("GIT_COMMITTER_NAME", "Newcomer"),
        ("GIT_COMMITTER_EMAIL", "newcomer@example.org"),
    ]
}

impl Drop for Newcomer {
    fn drop(&mut self) {
        // Only the agent the quickstart started in this HOME; others are left alone.
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.path("h/.gnupg"))
            .args(["--kill", "gpg-agent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn readme() -> String {
    std::fs::read_to_string(common::repo_root().join("README.md")).expect("read README.md")
}

#[test]
fn readme_quickstarts_run_verbatim_in_a_fresh_home() {
    let blocks = quickstart_blocks(&readme()).unwrap_or_else(|e| panic!("README.md: {e}"));
    assert!(
        blocks.len() >= 3,
        "expected the age, GnuPG and .sops.yaml quickstarts, found {} marked blocks",
        blocks.len()
    );
    let newcomer = Newcomer::new();
    let mut stdout = String::new();
    for (i, block) in blocks.iter().enumerate() {
        let out = newcomer.sh(block);
        assert!(
            out.status.success(),
            "quickstart block {} failed:\n{block}\n{}",
            i + 1,
            show(&out)
        );
        stdout.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    // What the comments in the blocks promise.
    for expected in [
        "password: s3cr3t",
        "{\"encrypted\":true}",
        "api_token: t0k3n",
        "hunter2",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    let prod = std::fs::read_to_string(newcomer.path("w/app.prod.yaml")).expect("app.prod.yaml");
    assert!(prod.contains("kind: Secret") && !prod.contains("hunter2"));
}

#[test]
fn a_marker_without_a_sh_block_is_reported() {
    let text = format!("{MARKER}\n```yaml\na: 1\n```\n");
    assert!(quickstart_blocks(&text).is_err());
    let text = format!("{MARKER}\n\n```sh\necho hi\n```\n");
    assert_eq!(
        quickstart_blocks(&text).unwrap(),
        vec!["echo hi\n".to_string()]
    );
}

#[test]
fn set_up_leaves_cargo_deny_to_ci() {
    let script = std::fs::read_to_string(common::repo_root().join("scripts/install-test-tools.sh"))
        .expect("read install-test-tools.sh");
    assert!(
        !script.contains("cargo install") && !script.contains("cargo deny"),
        "install-test-tools.sh must not build into ~/.cargo (cargo-deny belongs to .ci/run)"
    );
    let ci = std::fs::read_to_string(common::repo_root().join(".ci/run")).expect("read .ci/run");
    assert!(ci.contains("cargo install --locked --quiet cargo-deny --version"));
    assert!(ci.contains("cargo deny --offline check"));
}
