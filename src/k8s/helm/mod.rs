//! The helm wrapper: decrypts the encrypted `-f/--values` and `--set-file` files, hands their
//! plaintext to the real helm without a file that outlives the run, and passes helm's output and
//! exit code through.
//!
//! Each plaintext goes through a pipe that helm opens as `/dev/fd/N` and drains: nothing touches
//! a disk, and whatever helm starts after reading it inherits only an empty pipe. With
//! `RSOPS_HELM_VALUES=tempdir` it is a 0600 file in a private 0700 directory that a guard
//! removes on every exit path, and `sys::signals` on a signal.
//!
//! - [`args`]: which arguments name files, and rewriting them;
//! - [`stash`]: where the plaintexts live while helm runs;
//! - [`run`]: running helm, the whole wrapper, the `secrets://` downloader;
//! - here: deciding what each file argument becomes (decrypted or passed through).

pub mod args;
pub mod evaluate;
pub mod run;
pub mod stash;

pub use args::{local_file, rewrite_args, Swap, Swapped, Use};
pub use run::{download, download_with, helm_bin, run_helm, wrap, wrap_with};
pub use stash::{new_stash, PipeStash, Stash, TempDirStash, TEMP_PREFIX};

use super::{decrypt_file_bytes, detect_encrypted, read, Error};
use crate::keys::KeyService;
use crate::stores::Format;
use std::ffi::OsString;
use std::path::Path;
use zeroize::Zeroizing;

/// The plaintext helm should see for a file, or `None` when the file is not encrypted (it then
/// passes through untouched). Missing files are left to helm, which reports them itself.
pub fn plaintext_for(
    keys: &dyn KeyService,
    path: &Path,
    usage: Use,
) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = read(path)?;
    let Some(format) = detect_encrypted(&bytes, path)? else {
        return Ok(None);
    };
    let output = match (usage, format) {
        (_, Format::Binary) | (Use::SetFile, _) => format,
        (Use::Values, _) => Format::Yaml,
    };
    decrypt_file_bytes(keys, path, &bytes, format, Some(output)).map(Some)
}

/// What helm sees for an encrypted file with `--skip-decrypt`: its shape with every encrypted
/// value replaced by a placeholder of its type ([`crate::k8s::redact`]); no key is used.
pub fn redacted_for(path: &Path, usage: Use) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = read(path)?;
    let Some(format) = detect_encrypted(&bytes, path)? else {
        return Ok(None);
    };
    let output = match (usage, format) {
        (_, Format::Binary) | (Use::SetFile, _) => format,
        (Use::Values, _) => Format::Yaml,
    };
    super::redact::redacted_plaintext(path, &bytes, format, output).map(Some)
}

/// Where the wrapper gets what helm sees for a file: its plaintext ([`plaintext_for`]) or a
/// placeholder version ([`redacted_for`]); `None` passes the file through.
pub type Source<'a> = dyn FnMut(&Path, Use) -> Result<Option<Zeroizing<Vec<u8>>>, Error> + 'a;

/// The decrypted files of one run plus the rewritten arguments. As in helm-secrets, a file
/// written `?path` is left out when it does not exist (every missing local file is, with
/// `HELM_SECRETS_IGNORE_MISSING_VALUES=true`); other missing files are left to helm to report.
pub fn prepare(
    keys: &dyn KeyService,
    args: &[OsString],
    stash: &mut dyn Stash,
) -> Result<Vec<OsString>, Error> {
    prepare_with(
        &mut |path, usage| plaintext_for(keys, path, usage),
        args,
        stash,
    )
}

/// [`prepare`] with the files' contents from `source`.
pub fn prepare_with(
    source: &mut Source,
    args: &[OsString],
    stash: &mut dyn Stash,
) -> Result<Vec<OsString>, Error> {
    let ignore_missing = std::env::var("HELM_SECRETS_IGNORE_MISSING_VALUES")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let mut count = 0;
    rewrite_args(args, &mut |spec, usage| {
        let (marked, spec) = match spec.strip_prefix('?') {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        let optional = marked || ignore_missing;
        let Some(file) = local_file(spec) else {
            // helm does not know the `?`: a URL or `-` goes on without it.
            return Ok(if marked {
                Swapped::Path(spec.to_string())
            } else {
                Swapped::Keep
            });
        };
        if optional && !Path::new(file).exists() {
            return Ok(Swapped::Drop);
        }
        match source(Path::new(file), usage)? {
            Some(plain) => {
                count += 1;
                let label = Path::new(file)
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                stash
                    .add(&format!("{count}-{label}"), &plain)
                    .map(Swapped::Path)
            }
            None if spec.starts_with("secrets://") || marked => Ok(Swapped::Path(file.to_string())),
            None => Ok(Swapped::Keep),
        }
    })
}
