//! `rsops git check`: the commit guard. A file that a `.sops.yaml` creation rule (one with a
//! `path_regex`) matches must be a sops file; the staged version of each added or changed file is
//! parsed with its format's store, so "encrypted" means "has sops metadata", not "looks like it".

use crate::cli::args::{FormatArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};
use crate::cli::plan;
use clap::Args;
use rsops::config::ConfigFile;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Check every tracked file, not only the staged changes
    #[arg(long)]
    pub all: bool,
    /// Check these files as they are in the work tree (what pre-commit passes); default: the
    /// files added or changed in the index, as staged
    pub files: Vec<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: &CheckArgs) -> Result<(), CliError> {
    let top = PathBuf::from(git(None, &["rev-parse", "--show-toplevel"])?.trim_end());
    let Some(config) = plan::load_config(global)? else {
        return Ok(());
    };
    let candidates = candidates(&top, args)?;
    let mut refused = Vec::new();
    for (name, source) in &candidates {
        let absolute = top.join(name);
        if absolute == config.path || !rule_matches(&config, &absolute)? {
            continue;
        }
        let bytes = source.read(&top, name)?;
        if !is_sops_file(global, &config, &absolute, &bytes)? {
            refused.push(name.clone());
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(CliError::new(
        exit::ERROR_GENERIC,
        format!(
            "{} file(s) match a .sops.yaml creation rule but are not encrypted:\n  {}",
            refused.len(),
            refused.join("\n  ")
        ),
    )
    .hint("encrypt them (`rsops encrypt -i FILE`, then `git add FILE`) or unstage them (`git restore --staged FILE`)"))
}

/// Where a file's bytes come from: git's index or the work tree.
enum Source {
    Index,
    WorkTree,
}

impl Source {
    fn read(&self, top: &Path, name: &str) -> Result<Vec<u8>, CliError> {
        match self {
            Source::WorkTree => std::fs::read(top.join(name)).map_err(|e| {
                CliError::new(
                    exit::COULD_NOT_READ_INPUT_FILE,
                    format!("could not read {name}: {e}"),
                )
            }),
            Source::Index => {
                let spec = format!(":{name}");
                git_bytes(Some(top), &["cat-file", "blob", &spec])
            }
        }
    }
}

/// The files to check, as paths relative to the top of the work tree.
fn candidates(top: &Path, args: &CheckArgs) -> Result<Vec<(String, Source)>, CliError> {
    if !args.files.is_empty() {
        let cwd = std::env::current_dir().unwrap_or_else(|_| top.to_path_buf());
        return Ok(args
            .files
            .iter()
            .map(|f| {
                let absolute = rsops::config::absolute_clean(&cwd.join(f));
                let relative = absolute.strip_prefix(top).unwrap_or(&absolute);
                (relative.to_string_lossy().into_owned(), Source::WorkTree)
            })
            .collect());
    }
    let listing = if args.all {
        git_bytes(Some(top), &["ls-files", "-z", "--cached"])?
    } else {
        git_bytes(
            Some(top),
            &[
                "diff",
                "--cached",
                "--name-only",
                "-z",
                "--diff-filter=ACMR",
            ],
        )?
    };
    Ok(listing
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| (String::from_utf8_lossy(n).into_owned(), Source::Index))
        .collect())
}

/// Only rules with a `path_regex` count: a catch-all rule names keys, not which files are secret.
fn rule_matches(config: &ConfigFile, path: &Path) -> Result<bool, CliError> {
    match config.rule_for(path) {
        Ok(rule) => Ok(rule.is_some_and(|rule| !rule.path_regex.is_empty())),
        Err(rsops::config::ConfigError::NoMatchingRule { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn is_sops_file(
    global: &GlobalArgs,
    config: &ConfigFile,
    path: &Path,
    bytes: &[u8],
) -> Result<bool, CliError> {
    let options = plan::store_options(global, Some(config))?;
    let store = plan::store(
        plan::formats(Some(path), &FormatArgs::default()).input,
        options,
    );
    Ok(matches!(store.load_encrypted(bytes), Ok((_, Some(_)))))
}

fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, CliError> {
    git_bytes(dir, args).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn git_bytes(dir: Option<&Path>, args: &[&str]) -> Result<Vec<u8>, CliError> {
    let mut cmd = Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    let out = cmd
        .args(args)
        .output()
        .map_err(|e| CliError::new(exit::ERROR_GENERIC, format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(CliError::new(
            exit::ERROR_GENERIC,
            format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
        .hint("run it inside a git repository"));
    }
    Ok(out.stdout)
}
