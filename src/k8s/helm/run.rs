//! Running helm (signals forwarded, exit code passed through), the whole wrapper, and the
//! `secrets://` downloader.

use super::super::{read, Error};
use super::{new_stash, plaintext_for, prepare_with, Source, Stash, Use};
use crate::keys::KeyService;
use crate::sys::signals::Hold;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use zeroize::Zeroizing;

/// The `secrets://PATH` downloader: the plaintext of PATH (decrypted if encrypted) for helm's
/// stdout protocol. helm passes `certFile keyFile caFile URL`; the URL is the last argument.
pub fn download(keys: &dyn KeyService, url: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    download_with(&mut |path, usage| plaintext_for(keys, path, usage), url)
}

/// [`download`] with the file's contents from `source`.
pub fn download_with(source: &mut Source, url: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let path = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| Error::Usage(format!("`{url}` is not a secrets:// URL")))?;
    let path = Path::new(path);
    match source(path, Use::Values)? {
        Some(plain) => Ok(plain),
        None => Ok(Zeroizing::new(read(path)?)),
    }
}

/// The helm binary: `$HELM_BIN` (helm sets it for plugins), else `helm` from PATH.
pub fn helm_bin() -> OsString {
    std::env::var_os("HELM_BIN")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| OsString::from("helm"))
}

/// Runs helm to completion; returns its exit code (128 + signal when a signal ended it). Signals
/// sent to rsops meanwhile go to helm, which decides whether to stop; the stash outlives helm.
pub fn run_helm(
    helm: &OsStr,
    args: &[OsString],
    stash: &mut dyn Stash,
    hold: &Hold,
) -> Result<i32, Error> {
    let mut child = std::process::Command::new(helm)
        .args(args)
        .spawn()
        .map_err(|e| {
            Error::Usage(format!(
                "could not run helm ({}): {e}; install helm or set HELM_BIN",
                Path::new(helm).display()
            ))
        })?;
    hold.forward_to(rustix::process::Pid::from_child(&child));
    stash.handed_over();
    let status = child.wait()?;
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        return Ok(128 + signal);
    }
    Ok(status.code().unwrap_or(1))
}

/// The whole wrapper: decrypt, run helm, clean up. A signal while decrypting ends rsops through
/// `sys::signals` (the stash's directory, if any, is removed); one that arrives between the
/// decryption and helm's start is delivered to helm as soon as it runs.
pub fn wrap(keys: &dyn KeyService, args: &[OsString]) -> Result<i32, Error> {
    wrap_with(&mut |path, usage| plaintext_for(keys, path, usage), args)
}

/// [`wrap`] with the files' contents from `source` (e.g. [`super::redacted_for`], which needs
/// no key).
pub fn wrap_with(source: &mut Source, args: &[OsString]) -> Result<i32, Error> {
    let mut stash = new_stash()?;
    let rewritten = prepare_with(source, args, stash.as_mut())?;
    let hold = crate::sys::signals::hold();
    let code = run_helm(&helm_bin(), &rewritten, stash.as_mut(), &hold);
    drop(stash);
    drop(hold);
    code
}
