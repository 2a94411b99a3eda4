//! `rsops git mergetool`: for a conflict that needs a human. The three versions git holds for a
//! conflicted sops file are decrypted into a private scratch directory (0700, removed on every
//! exit path, signals included), with a fourth file, MERGED, holding git's line merge of the
//! plaintexts with conflict markers; the user's configured merge tool runs on them; the result is
//! encrypted with ours's data key (unchanged values keep their ciphertext) and staged.

use super::check::git_bytes;
use crate::cli::args::GlobalArgs;
use crate::cli::exit::{self, CliError};
use crate::cli::io;
use rsops::file::SopsFile;
use rsops::sys::scratch::ScratchDir;
use std::path::{Path, PathBuf};
use std::process::Command;
use zeroize::Zeroizing;

#[derive(clap::Args, Debug)]
pub struct MergetoolArgs {
    /// The merge tool (default: git config merge.tool); its mergetool.<tool>.cmd is run with
    /// $BASE, $LOCAL, $REMOTE and $MERGED set, as git does
    #[arg(long)]
    pub tool: Option<String>,
    /// Conflicted files (default: every conflicted file)
    pub files: Vec<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: &MergetoolArgs) -> Result<(), CliError> {
    let top = PathBuf::from(
        String::from_utf8_lossy(&git_bytes(None, &["rev-parse", "--show-toplevel"])?).trim_end(),
    );
    let command = tool_command(&top, args.tool.as_deref())?;
    let names = conflicted(&top, &args.files)?;
    if names.is_empty() {
        eprintln!("rsops: no conflicted files");
        return Ok(());
    }
    crate::cli::catch_terminating_signals();
    for name in &names {
        resolve(global, &top, name, &command)?;
        eprintln!("rsops: {name} resolved and staged");
    }
    Ok(())
}

/// `mergetool.<tool>.cmd` of `--tool` or `merge.tool`.
fn tool_command(top: &Path, tool: Option<&str>) -> Result<String, CliError> {
    let config = |key: &str| {
        git_bytes(Some(top), &["config", "--get", key])
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
            .filter(|s| !s.is_empty())
    };
    let tool = tool
        .map(str::to_string)
        .or_else(|| config("merge.tool"))
        .ok_or_else(|| {
            CliError::new(exit::ERROR_GENERIC, "no merge tool configured")
                .hint("pass --tool NAME, or set git config merge.tool NAME and mergetool.NAME.cmd")
        })?;
    config(&format!("mergetool.{tool}.cmd")).ok_or_else(|| {
        CliError::new(exit::ERROR_GENERIC, format!("mergetool.{tool}.cmd is not set"))
            .hint(format!("set it, e.g. git config mergetool.{tool}.cmd 'meld \"$LOCAL\" \"$MERGED\" \"$REMOTE\"'; rsops runs only tools configured by a command"))
    })
}

fn conflicted(top: &Path, files: &[PathBuf]) -> Result<Vec<String>, CliError> {
    if !files.is_empty() {
        let cwd = std::env::current_dir().unwrap_or_else(|_| top.to_path_buf());
        return Ok(files
            .iter()
            .map(|f| {
                let absolute = rsops::config::absolute_clean(&cwd.join(f));
                absolute
                    .strip_prefix(top)
                    .unwrap_or(&absolute)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect());
    }
    let listing = git_bytes(Some(top), &["diff", "--name-only", "-z", "--diff-filter=U"])?;
    Ok(listing
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect())
}

/// One stage of a conflicted path (1 base, 2 ours, 3 theirs); `None` when git has none (both
/// sides added the file).
fn stage(top: &Path, stage: u8, name: &str) -> Option<Vec<u8>> {
    git_bytes(
        Some(top),
        &["cat-file", "blob", &format!(":{stage}:{name}")],
    )
    .ok()
}

fn resolve(global: &GlobalArgs, top: &Path, name: &str, command: &str) -> Result<(), CliError> {
    let path = top.join(name);
    let store = super::store_for_name(global, &path)?;
    let keys = crate::cli::plan::key_service(global);
    let order = super::decryption_order()?;
    let missing = || CliError::new(exit::ERROR_GENERIC, format!("{name} is not in conflict"));
    let ours_bytes = stage(top, 2, name).ok_or_else(missing)?;
    let theirs_bytes = stage(top, 3, name).ok_or_else(missing)?;
    let mut ours = SopsFile::open(store.as_ref(), &ours_bytes, keys.as_ref(), &order)?;
    let theirs = SopsFile::open(store.as_ref(), &theirs_bytes, keys.as_ref(), &order)?;
    let base = match stage(top, 1, name) {
        Some(bytes) => SopsFile::decrypt(store.as_ref(), &bytes, keys.as_ref(), &order)?
            .emit_plain(store.as_ref())?,
        None => Zeroizing::new(Vec::new()),
    };
    let local = ours.emit_plain(store.as_ref())?;
    let remote = theirs.emit_plain(store.as_ref())?;
    let scratch_error = |e: std::io::Error| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("could not use the private temporary directory: {e}"),
        )
    };
    let scratch = ScratchDir::new().map_err(scratch_error)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let put = |role: &str, bytes: &[u8]| {
        scratch
            .write_private(&format!("{role}_{file_name}"), bytes)
            .map_err(scratch_error)
    };
    let (base_file, local_file, remote_file) = (
        put("BASE", &base)?,
        put("LOCAL", &local)?,
        put("REMOTE", &remote)?,
    );
    let start = line_merge(&local_file, &base_file, &remote_file)?;
    let merged_file = put("MERGED", &start)?;
    let status = Command::new("sh")
        .args(["-c", command])
        .current_dir(top)
        .env("BASE", &base_file)
        .env("LOCAL", &local_file)
        .env("REMOTE", &remote_file)
        .env("MERGED", &merged_file)
        .status()
        .map_err(|e| {
            CliError::new(
                exit::ERROR_GENERIC,
                format!("cannot run the merge tool: {e}"),
            )
        })?;
    let merged = Zeroizing::new(std::fs::read(&merged_file).map_err(scratch_error)?);
    drop(scratch);
    let unresolved = |why: &str| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("{name} not resolved: {why}; nothing was written"),
        )
        .hint(format!(
            "run `rsops git mergetool {name}` again, or resolve with `rsops edit {name}`"
        ))
    };
    if !status.success() {
        return Err(unresolved("the merge tool failed"));
    }
    if has_conflict_markers(&merged) {
        return Err(unresolved("the result still has conflict markers"));
    }
    let doc = store
        .load_plain(&merged)
        .map_err(|e| unresolved(&format!("the result does not parse ({e})")))?;
    ours.adopt_ivs(&theirs);
    ours.replace(doc, None);
    let bytes = ours.reseal(store.as_ref())?;
    io::write_atomic(&path, &bytes, io::Contents::Ciphertext)?;
    git_bytes(Some(top), &["add", "--", name]).map(|_| ())
}

/// git's own line merge of the plaintexts (conflict markers included), read from its stdout so
/// it exists only in the scratch file the caller writes.
fn line_merge(local: &Path, base: &Path, remote: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let out = Command::new("git")
        .args([
            "merge-file",
            "-p",
            "-L",
            "ours",
            "-L",
            "base",
            "-L",
            "theirs",
        ])
        .args([local, base, remote])
        .output()
        .map_err(|e| {
            CliError::new(
                exit::ERROR_GENERIC,
                format!("cannot run git merge-file: {e}"),
            )
        })?;
    Ok(Zeroizing::new(out.stdout))
}

fn has_conflict_markers(text: &[u8]) -> bool {
    text.split(|b| *b == b'\n')
        .any(|l| l.starts_with(b"<<<<<<< ") || l.starts_with(b">>>>>>> ") || l == b"=======")
}
