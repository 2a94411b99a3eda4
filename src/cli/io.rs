//! Where bytes come from and go to: files, stdin/stdout, and atomic in-place writes.

use super::exit::{self, CliError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Reads the input file, or stdin when there is none. The bytes are often plaintext, so they
/// are wiped when dropped.
pub fn read_input(file: Option<&Path>) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let bytes = match file {
        Some(path) => read_file(path).map_err(|e| {
            CliError::new(
                exit::COULD_NOT_READ_INPUT_FILE,
                format!("could not read {}: {e}", path.display()),
            )
        }),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
                CliError::new(
                    exit::COULD_NOT_READ_INPUT_FILE,
                    format!("could not read stdin: {e}"),
                )
            })?;
            Ok(bytes)
        }
    }?;
    Ok(Zeroizing::new(bytes))
}

/// Reads a file; a FIFO is opened without waiting for a writer, so a named pipe nobody writes to
/// reads as empty instead of hanging (process substitution, `<(…)`, has its writer already).
fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let is_fifo = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo());
    if !is_fifo {
        return std::fs::read(path);
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    // Blocking again for the reads: a writer that is there may be slower than us.
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The absolute path of an existing input file, or sops's "non-existent file" error (exit 100).
pub fn existing_file(path: &Path) -> Result<PathBuf, CliError> {
    let absolute = rsops::config::absolute_clean(path);
    if !absolute.exists() {
        return Err(CliError::new(
            exit::NO_FILE_SPECIFIED,
            format!("cannot operate on non-existent file {}", path.display()),
        )
        .sops_words(format!(
            "Error: cannot operate on non-existent file {}",
            exit::go_quote(&absolute.to_string_lossy())
        ))
        .hint("check the path; to encrypt a new file, write its plaintext first and run `rsops encrypt -i FILE`"));
    }
    Ok(absolute)
}

pub use rsops::sys::atomic::Contents;
use rsops::sys::atomic::{self, Policy, WriteError};

/// Set to 1 to replace a file that has other hard links; those names keep the old contents.
const ALLOW_HARD_LINKS_ENV: &str = "RSOPS_ALLOW_HARD_LINKS";

/// Whether the file is rewritten in place or is the `--output` target: sops words the two
/// failures differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    InPlace,
    Output,
}

/// Replaces `path` atomically, through a symlink, keeping the file's owner, group and mode. A
/// crash, a kill or a full disk leaves the old file intact.
pub fn write_atomic(path: &Path, bytes: &[u8], contents: Contents) -> Result<(), CliError> {
    replace(path, bytes, contents, Target::InPlace)
}

fn replace(path: &Path, bytes: &[u8], contents: Contents, target: Target) -> Result<(), CliError> {
    let policy = Policy {
        // sops refuses an in-place file it cannot open for writing; an `--output` file the user
        // named is theirs to replace (root's sops overwrites it too).
        allow_read_only: target == Target::Output,
        allow_hard_links: std::env::var_os(ALLOW_HARD_LINKS_ENV).is_some_and(|v| v == "1"),
    };
    atomic::replace(path, bytes, contents, policy).map_err(|e| write_error(path, target, e))
}

/// sops's wording where sops has one (`Could not open in-place file for writing: …`), exit code
/// 3, and what to do about it.
fn write_error(path: &Path, target: Target, e: WriteError) -> CliError {
    let shown = path.display();
    let opening = match target {
        Target::InPlace => "could not open in-place file for writing",
        Target::Output => "could not open output file for writing",
    };
    let error = |message: String| CliError::new(exit::COULD_NOT_WRITE_OUTPUT_FILE, message);
    match e {
        WriteError::ReadOnly { mode, .. } => {
            error(format!("{opening}: open {shown}: permission denied")).hint(format!(
                "the file is read-only (mode {mode:04o}); make it writable first (chmod u+w {shown})"
            ))
        }
        WriteError::HardLinked { links, .. } => error(format!(
            "refusing to write {shown}: it has {links} hard links, and replacing it would leave the old contents under the other names"
        ))
        .hint(format!(
            "remove the other links (find -samefile {shown}), or set {ALLOW_HARD_LINKS_ENV}=1 to replace this name only"
        )),
        WriteError::IsDirectory { .. } => error(format!("{opening}: open {shown}: is a directory")),
        WriteError::Tampered { .. } => error(format!(
            "could not write {shown}: the file or its temporary copy was replaced by someone else while rsops was writing"
        ))
        .hint("another user can write to that directory; the original was left as it was, move the file somewhere private"),
        WriteError::Io { step, source } => {
            error(format!("could not write {shown}: {step}: {source}"))
                .hint("the original file was left unchanged")
        }
    }
}

/// Writes the result where the flags say: in place, to `--output`, or to stdout.
pub fn write_output(
    bytes: &[u8],
    contents: Contents,
    in_place: Option<&Path>,
    output: Option<&Path>,
) -> Result<(), CliError> {
    if let Some(path) = in_place {
        return replace(path, bytes, contents, Target::InPlace);
    }
    if let Some(path) = output {
        return replace(path, bytes, contents, Target::Output);
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|_| stdout.flush())
        .map_err(|e| {
            CliError::new(
                exit::COULD_NOT_WRITE_OUTPUT_FILE,
                format!("could not write to stdout: {e}"),
            )
        })
}
