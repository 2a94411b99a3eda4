//! `rsops git setup`: the `.gitattributes` lines and the `git config` entries that route
//! encrypted files through `rsops git textconv` and the merge driver. Running it again changes
//! nothing.

use crate::cli::exit::{self, CliError};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where sops users usually keep encrypted files; `--pattern` replaces the list.
const DEFAULT_PATTERNS: [&str; 5] = [
    "*.enc.yaml",
    "*.enc.yml",
    "*.enc.json",
    "*.enc.env",
    "*.enc.ini",
];

#[derive(Args, Debug)]
pub struct SetupArgs {
    /// Set it up for every repository of this user (git config --global and the global
    /// attributes file) instead of the current repository
    #[arg(long)]
    pub global: bool,
    /// A gitattributes pattern of encrypted files (repeatable; default: *.enc.yaml, *.enc.yml,
    /// *.enc.json, *.enc.env, *.enc.ini)
    #[arg(long = "pattern", value_name = "GLOB")]
    pub patterns: Vec<String>,
}

pub fn run(args: &SetupArgs) -> Result<(), CliError> {
    let rsops = rsops_command()?;
    let scope = if args.global { "--global" } else { "--local" };
    let entries = [
        ("diff.sops.textconv", format!("{rsops} git textconv")),
        (
            "merge.sops.name",
            "rsops: merge sops-encrypted files key by key".to_string(),
        ),
        (
            "merge.sops.driver",
            format!("{rsops} git merge-driver %O %A %B %P"),
        ),
    ];
    for (key, value) in &entries {
        git(&["config", scope, key, value])?;
    }
    let attributes = attributes_file(args.global)?;
    let patterns: Vec<&str> = if args.patterns.is_empty() {
        DEFAULT_PATTERNS.to_vec()
    } else {
        args.patterns.iter().map(String::as_str).collect()
    };
    let added = add_lines(&attributes, &patterns)?;
    println!(
        "git config ({}): diff.sops.textconv, merge.sops.driver set; {}: {added} line(s) added",
        scope.trim_start_matches('-'),
        attributes.display()
    );
    Ok(())
}

/// The running binary by absolute path, so git finds it whatever PATH its hooks run with.
fn rsops_command() -> Result<String, CliError> {
    let exe = std::env::current_exe().map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("cannot find the rsops binary: {e}"),
        )
    })?;
    let text = exe.to_string_lossy().into_owned();
    // git runs the command through the shell.
    Ok(
        if text.contains(|c: char| !(c.is_ascii_alphanumeric() || "/._-+".contains(c))) {
            format!("'{}'", text.replace('\'', r"'\''"))
        } else {
            text
        },
    )
}

fn git(args: &[&str]) -> Result<String, CliError> {
    let out = Command::new("git").args(args).output().map_err(|e| {
        CliError::new(exit::ERROR_GENERIC, format!("cannot run git: {e}"))
            .hint("install git, or put it on PATH")
    })?;
    if !out.status.success() {
        return Err(CliError::new(
            exit::ERROR_GENERIC,
            format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// The repository's top-level `.gitattributes`, or for `--global` git's `core.attributesFile`
/// (by default `$XDG_CONFIG_HOME/git/attributes`).
fn attributes_file(global: bool) -> Result<PathBuf, CliError> {
    if !global {
        let top = git(&["rev-parse", "--show-toplevel"])
            .map_err(|e| e.hint("run it inside a git repository, or pass --global"))?;
        return Ok(Path::new(&top).join(".gitattributes"));
    }
    if let Ok(configured) = git(&["config", "--global", "--path", "core.attributesFile"]) {
        if !configured.is_empty() {
            return Ok(PathBuf::from(configured));
        }
    }
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| {
            CliError::new(
                exit::ERROR_GENERIC,
                "neither XDG_CONFIG_HOME nor HOME is set",
            )
        })?;
    Ok(config_home.join("git").join("attributes"))
}

/// Appends `PATTERN diff=sops merge=sops` for every pattern that has no such line yet.
fn add_lines(file: &Path, patterns: &[&str]) -> Result<usize, CliError> {
    let existing = std::fs::read_to_string(file).unwrap_or_default();
    let missing: Vec<String> = patterns
        .iter()
        .map(|p| format!("{p} diff=sops merge=sops"))
        .filter(|line| !existing.lines().any(|l| l.trim() == line))
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for line in &missing {
        text.push_str(line);
        text.push('\n');
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| write_error(file, e))?;
    }
    if file.exists() {
        crate::cli::io::write_atomic(file, text.as_bytes(), crate::cli::io::Contents::Ciphertext)?;
    } else {
        std::fs::write(file, text).map_err(|e| write_error(file, e))?;
    }
    Ok(missing.len())
}

fn write_error(file: &Path, e: std::io::Error) -> CliError {
    CliError::new(
        exit::COULD_NOT_WRITE_OUTPUT_FILE,
        format!("could not write {}: {e}", file.display()),
    )
}
