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
    let (names, source) = candidates(&top, args)?;
    let mut matched = Vec::new();
    for name in names {
        let absolute = top.join(&name);
        if absolute != config.path && rule_matches(&config, &absolute)? {
            matched.push(name);
        }
    }
    let contents = match source {
        Source::WorkTree => matched
            .iter()
            .map(|name| read_work_tree(&top, name))
            .collect::<Result<Vec<_>, _>>()?,
        Source::Index => staged_blobs(&top, &matched)?,
    };
    let mut refused = Vec::new();
    for (name, bytes) in matched.iter().zip(&contents) {
        if !is_sops_file(global, &config, &top.join(name), bytes)? {
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

fn read_work_tree(top: &Path, name: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(top.join(name)).map_err(|e| {
        CliError::new(
            exit::COULD_NOT_READ_INPUT_FILE,
            format!("could not read {name}: {e}"),
        )
    })
}

/// The staged contents of `names`, through one `git cat-file --batch` (one process per file
/// would dominate the run on a big repository).
fn staged_blobs(top: &Path, names: &[String]) -> Result<Vec<Vec<u8>>, CliError> {
    use std::io::{BufRead, Read, Write};
    let spawn_error = |e: std::io::Error| {
        CliError::new(exit::ERROR_GENERIC, format!("cannot run git cat-file: {e}"))
    };
    let mut child = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["cat-file", "--batch"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let requests: String = names.iter().map(|n| format!(":{n}\n")).collect();
    // Written from a thread: git answers while it reads, and both pipes have limited room.
    let writer = std::thread::spawn(move || stdin.write_all(requests.as_bytes()));
    let mut out = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut blobs = Vec::with_capacity(names.len());
    for name in names {
        let mut header = String::new();
        out.read_line(&mut header).map_err(spawn_error)?;
        let size = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| {
                CliError::new(exit::ERROR_GENERIC, format!("{name} is not in git's index"))
            })?;
        let mut blob = vec![0; size + 1];
        out.read_exact(&mut blob).map_err(spawn_error)?;
        blob.truncate(size);
        blobs.push(blob);
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(blobs)
}

/// The files to check, as paths relative to the top of the work tree.
fn candidates(top: &Path, args: &CheckArgs) -> Result<(Vec<String>, Source), CliError> {
    if !args.files.is_empty() {
        let cwd = std::env::current_dir().unwrap_or_else(|_| top.to_path_buf());
        let names = args
            .files
            .iter()
            .map(|f| {
                let absolute = rsops::config::absolute_clean(&cwd.join(f));
                let relative = absolute.strip_prefix(top).unwrap_or(&absolute);
                relative.to_string_lossy().into_owned()
            })
            .collect();
        return Ok((names, Source::WorkTree));
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
    let names = listing
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    Ok((names, Source::Index))
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

pub(super) fn git_bytes(dir: Option<&Path>, args: &[&str]) -> Result<Vec<u8>, CliError> {
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
