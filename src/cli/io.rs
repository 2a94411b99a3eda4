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
        .hint("check the path; to encrypt a new file, write its plaintext first and run `rsops encrypt -i FILE`"));
    }
    Ok(absolute)
}

/// Replaces `path` atomically: a temp file in the same directory, fsynced, then renamed over the
/// original, keeping its permission bits. A crash or a full disk leaves the old file intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let fail = |what: &str, e: std::io::Error| {
        CliError::new(
            exit::COULD_NOT_WRITE_OUTPUT_FILE,
            format!("could not write {}: {what}: {e}", path.display()),
        )
        .hint("the original file was left unchanged")
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mode = std::fs::metadata(path).ok().map(|m| m.permissions());
    let mut temp = tempfile::Builder::new()
        .prefix(".rsops-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| fail("creating a temporary file", e))?;
    if let Some(permissions) = mode {
        std::fs::set_permissions(temp.path(), permissions)
            .map_err(|e| fail("setting permissions", e))?;
    }
    temp.write_all(bytes).map_err(|e| fail("writing", e))?;
    temp.as_file().sync_all().map_err(|e| fail("syncing", e))?;
    temp.persist(path)
        .map_err(|e| fail("renaming into place", e.error))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        // Make the rename itself durable; failing here cannot lose data, so it is not an error.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes the result where the flags say: in place, to `--output`, or to stdout.
pub fn write_output(
    bytes: &[u8],
    in_place: Option<&Path>,
    output: Option<&Path>,
) -> Result<(), CliError> {
    if let Some(path) = in_place.or(output) {
        return write_atomic(path, bytes);
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
