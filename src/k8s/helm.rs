//! The helm wrapper: decrypts the encrypted `-f/--values` and `--set-file` files, hands their
//! plaintext to the real helm without a file that outlives the run, and passes helm's output and
//! exit code through.
//!
//! Each plaintext goes through a pipe that helm opens as `/dev/fd/N` and drains: nothing touches
//! a disk, and whatever helm starts after reading it inherits only an empty pipe. With
//! `RSOPS_HELM_VALUES=tempdir` it is a 0600 file in a private 0700 directory that a guard
//! removes on every exit path, and `sys::signals` on a signal.

use super::{decrypt_file_bytes, detect_encrypted, read, Error};
use crate::keys::KeyService;
use crate::stores::Format;
use crate::sys::signals::Hold;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Prefix of the private directories of the temp-dir fallback (also used to sweep leftovers).
pub const TEMP_PREFIX: &str = "rsops-helm-";

/// What a file argument is used for: values are YAML for helm; `--set-file` content is the
/// file's own plaintext, as `sops decrypt` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    Values,
    SetFile,
}

/// What becomes of one file argument.
#[derive(Debug, PartialEq, Eq)]
pub enum Swapped {
    Keep,
    Path(String),
    /// An optional file (`?path`, as in helm-secrets) that does not exist: left out.
    Drop,
}

/// Decides what becomes of one file argument.
pub type Swap<'a> = dyn FnMut(&str, Use) -> Result<Swapped, Error> + 'a;

/// Rewrites helm's arguments, calling `swap` for each file named by `-f/--values` (comma lists
/// included) and `--set-file`; a flag whose files are all dropped is left out with its value.
/// Everything else, and everything after `--`, passes through byte for byte.
pub fn rewrite_args(args: &[OsString], swap: &mut Swap) -> Result<Vec<OsString>, Error> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(text) = arg.to_str() else {
            out.push(arg.clone());
            continue;
        };
        if text == "--" {
            out.extend(args[i - 1..].iter().cloned());
            break;
        }
        let Some((flag, attached, kind)) = split_flag(text) else {
            out.push(arg.clone());
            continue;
        };
        let value = match attached {
            Some(v) => v.to_string(),
            None => match args.get(i).and_then(|a| a.to_str()) {
                Some(v) => {
                    i += 1;
                    v.to_string()
                }
                None => {
                    out.push(arg.clone());
                    continue;
                }
            },
        };
        let value = match kind {
            Use::Values => rewrite_list(&value, |f| swap(f, Use::Values))?,
            Use::SetFile => rewrite_set_file(&value, |f| swap(f, Use::SetFile))?,
        };
        if let Some(value) = value {
            out.push(OsString::from(flag));
            out.push(OsString::from(value));
        }
    }
    Ok(out)
}

/// `-f X`, `-fX`, `-f=X`, `--values X`, `--values=X`, `--set-file X`, `--set-file=X`.
fn split_flag(text: &str) -> Option<(&'static str, Option<&str>, Use)> {
    for (long, kind) in [("--values", Use::Values), ("--set-file", Use::SetFile)] {
        if text == long {
            return Some((long, None, kind));
        }
        if let Some(v) = text.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
            return Some((long, Some(v), kind));
        }
    }
    let rest = text.strip_prefix("-f")?;
    if text.starts_with("--") {
        return None;
    }
    Some(match rest {
        "" => ("--values", None, Use::Values),
        _ => (
            "--values",
            Some(rest.strip_prefix('=').unwrap_or(rest)),
            Use::Values,
        ),
    })
}

/// pflag's string slices split on commas; `None` when every part was dropped.
fn rewrite_list(
    value: &str,
    mut swap: impl FnMut(&str) -> Result<Swapped, Error>,
) -> Result<Option<String>, Error> {
    let mut out = Vec::new();
    for part in value.split(',') {
        match swap(part)? {
            Swapped::Keep => out.push(part.to_string()),
            Swapped::Path(new) => out.push(new),
            Swapped::Drop => {}
        }
    }
    Ok((!out.is_empty()).then(|| out.join(",")))
}

/// `key=path[,key2=path2]`; helm escapes a literal comma as `\,`.
fn rewrite_set_file(
    value: &str,
    mut swap: impl FnMut(&str) -> Result<Swapped, Error>,
) -> Result<Option<String>, Error> {
    let mut out = Vec::new();
    for pair in split_unescaped_commas(value) {
        match pair.split_once('=') {
            Some((key, path)) => match swap(&path.replace("\\,", ","))? {
                Swapped::Keep => out.push(pair.to_string()),
                Swapped::Path(new) => out.push(format!("{key}={new}")),
                Swapped::Drop => {}
            },
            None => out.push(pair.to_string()),
        }
    }
    Ok((!out.is_empty()).then(|| out.join(",")))
}

fn split_unescaped_commas(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b',' && (i == 0 || bytes[i - 1] != b'\\') {
            parts.push(&value[start..i]);
            start = i + 1;
        }
    }
    parts.push(&value[start..]);
    parts
}

/// The local file an argument names, if any: `secrets://` is stripped; URLs and `-` are not files.
pub fn local_file(spec: &str) -> Option<&str> {
    if let Some(path) = spec.strip_prefix("secrets://") {
        return Some(path);
    }
    if spec == "-" || spec.contains("://") || spec.is_empty() {
        return None;
    }
    Some(spec)
}

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

/// The `secrets://PATH` downloader: the plaintext of PATH (decrypted if encrypted) for helm's
/// stdout protocol. helm passes `certFile keyFile caFile URL`; the URL is the last argument.
pub fn download(keys: &dyn KeyService, url: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let path = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| Error::Usage(format!("`{url}` is not a secrets:// URL")))?;
    let path = Path::new(path);
    match plaintext_for(keys, path, Use::Values)? {
        Some(plain) => Ok(plain),
        None => Ok(Zeroizing::new(read(path)?)),
    }
}

/// Where the plaintexts live while helm runs.
pub trait Stash {
    /// Stores one plaintext and returns the path helm should read it from.
    fn add(&mut self, label: &str, plaintext: &[u8]) -> Result<String, Error>;

    /// helm has started with its own copies of whatever it inherits: rsops lets go of its own.
    fn handed_over(&mut self) {}
}

/// The decrypted files of one run plus the rewritten arguments. As in helm-secrets, a file
/// written `?path` is left out when it does not exist (every missing local file is, with
/// `HELM_SECRETS_IGNORE_MISSING_VALUES=true`); other missing files are left to helm to report.
pub fn prepare(
    keys: &dyn KeyService,
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
        match plaintext_for(keys, Path::new(file), usage)? {
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

/// The fallback stash: 0600 files in a 0700 directory, removed when dropped.
pub struct TempDirStash {
    dir: tempfile::TempDir,
    files: Vec<PathBuf>,
}

impl TempDirStash {
    pub fn new() -> Result<TempDirStash, Error> {
        crate::sys::scratch::sweep_stale(&std::env::temp_dir(), TEMP_PREFIX);
        let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        // tempfile's directories follow the umask (0755 is common): ask for 0700 at creation.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let dir = builder.tempdir()?;
        crate::sys::signals::remember_dir(dir.path());
        Ok(TempDirStash {
            dir,
            files: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Stash for TempDirStash {
    fn add(&mut self, label: &str, plaintext: &[u8]) -> Result<String, Error> {
        use std::io::Write;
        let path = self.dir.path().join(sanitize(label));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        self.files.push(path.clone());
        file.write_all(plaintext)?;
        Ok(path.to_string_lossy().to_string())
    }
}

impl Drop for TempDirStash {
    fn drop(&mut self) {
        // Overwrite before unlinking, so the bytes do not linger in freed blocks of a tmpfs.
        for path in &self.files {
            if let Ok(meta) = std::fs::metadata(path) {
                let _ = std::fs::write(path, vec![0u8; meta.len() as usize]);
            }
        }
        crate::sys::signals::forget_dir(self.dir.path());
    }
}

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The in-memory stash: one pipe per plaintext, whose read end helm inherits as `/dev/fd/N`.
/// A writer thread fills the pipe and closes it, and rsops keeps no read end once helm runs, so
/// helm's read drains the plaintext: a plugin or post-renderer that inherited the descriptor
/// from helm (helm does not close it) then reads an end of file, and `/proc/<pid>/fd/N` of a
/// grandchild leads to the same empty pipe. Nothing touches a disk; pipes hold any size.
pub struct PipeStash {
    readers: Vec<std::os::fd::OwnedFd>,
    writers: Vec<std::thread::JoinHandle<()>>,
}

impl PipeStash {
    pub fn new() -> PipeStash {
        PipeStash {
            readers: Vec::new(),
            writers: Vec::new(),
        }
    }
}

impl Default for PipeStash {
    fn default() -> Self {
        Self::new()
    }
}

impl Stash for PipeStash {
    fn add(&mut self, _label: &str, plaintext: &[u8]) -> Result<String, Error> {
        use rustix::io::{fcntl_setfd, FdFlags};
        use std::os::fd::AsRawFd;
        let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(std::io::Error::from)?;
        // Only the read end may reach helm; the write end stays rsops's alone.
        fcntl_setfd(&reader, FdFlags::empty()).map_err(std::io::Error::from)?;
        let bytes = Zeroizing::new(plaintext.to_vec());
        self.writers.push(std::thread::spawn(move || {
            use std::io::Write;
            // A reader that goes away early (helm failed) is helm's error to report, not ours.
            let _ = std::fs::File::from(writer).write_all(&bytes);
        }));
        let path = format!("/dev/fd/{}", reader.as_raw_fd());
        self.readers.push(reader);
        Ok(path)
    }

    fn handed_over(&mut self) {
        self.readers.clear();
    }
}

impl Drop for PipeStash {
    fn drop(&mut self) {
        // Without read ends, a writer whose plaintext helm never read stops with EPIPE.
        self.readers.clear();
        for writer in self.writers.drain(..) {
            let _ = writer.join();
        }
    }
}

/// Which stash to use: pipes unless `RSOPS_HELM_VALUES=tempdir`.
pub fn new_stash() -> Result<Box<dyn Stash>, Error> {
    if std::env::var("RSOPS_HELM_VALUES").is_ok_and(|v| v == "tempdir") {
        return Ok(Box::new(TempDirStash::new()?));
    }
    Ok(Box::new(PipeStash::new()))
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
    let mut stash = new_stash()?;
    let rewritten = prepare(keys, args, stash.as_mut())?;
    let hold = crate::sys::signals::hold();
    let code = run_helm(&helm_bin(), &rewritten, stash.as_mut(), &hold);
    drop(stash);
    drop(hold);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn rewrite(args: &[&str]) -> Vec<String> {
        let mut seen = Vec::new();
        let out = rewrite_args(&os(args), &mut |f, u| {
            seen.push((f.to_string(), u));
            Ok(if f.starts_with("enc") {
                Swapped::Path(format!("/dev/fd/{}", seen.len()))
            } else if f.starts_with("gone") {
                Swapped::Drop
            } else {
                Swapped::Keep
            })
        })
        .unwrap();
        out.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn every_spelling_of_values_is_rewritten() {
        assert_eq!(
            rewrite(&[
                "template",
                "x",
                "-f",
                "enc.yaml",
                "-fenc2.yaml",
                "-f=plain.yaml"
            ]),
            [
                "template",
                "x",
                "--values",
                "/dev/fd/1",
                "--values",
                "/dev/fd/2",
                "--values",
                "plain.yaml"
            ]
        );
        assert_eq!(
            rewrite(&["--values=enc.yaml,plain.yaml", "--values", "enc3"]),
            ["--values", "/dev/fd/1,plain.yaml", "--values", "/dev/fd/3"]
        );
    }

    #[test]
    fn dropped_files_leave_out_their_flag() {
        assert_eq!(
            rewrite(&[
                "-f",
                "gone.yaml",
                "-f",
                "enc.yaml,gone2.yaml",
                "--set-file",
                "a=gone"
            ]),
            ["--values", "/dev/fd/2"]
        );
    }

    #[test]
    fn set_file_pairs_and_escaped_commas() {
        assert_eq!(
            rewrite(&["--set-file", "a=enc.txt,b=plain\\,x.txt"]),
            ["--set-file", "a=/dev/fd/1,b=plain\\,x.txt"]
        );
        assert_eq!(
            rewrite(&["--set-file=k=enc"]),
            ["--set-file", "k=/dev/fd/1"]
        );
    }

    #[test]
    fn other_flags_and_after_double_dash_pass_through() {
        assert_eq!(
            rewrite(&["--set", "f=enc", "--force", "--", "-f", "enc"]),
            ["--set", "f=enc", "--force", "--", "-f", "enc"]
        );
        assert_eq!(rewrite(&["-f"]), ["-f"]);
    }

    #[test]
    fn urls_are_not_files_but_secrets_urls_are() {
        assert_eq!(local_file("https://x/y.yaml"), None);
        assert_eq!(local_file("-"), None);
        assert_eq!(local_file("secrets://a/b.yaml"), Some("a/b.yaml"));
        assert_eq!(local_file("values.yaml"), Some("values.yaml"));
    }

    #[test]
    fn tempdir_stash_is_private_and_removed() {
        let mut stash = TempDirStash::new().unwrap();
        let dir = stash.path().to_path_buf();
        let p = stash.add("1-s.yaml", b"secret: x\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(Path::new(&p)), 0o600);
        }
        drop(stash);
        assert!(!dir.exists());
    }

    #[test]
    fn pipe_stash_is_read_once_then_empty() {
        let mut stash = PipeStash::new();
        let big = vec![b'a'; 300 * 1024];
        let p = stash.add("v", &big).unwrap();
        let q = stash.add("v", b"b: 2\n").unwrap();
        assert_ne!(p, q);
        assert_eq!(std::fs::read(&p).unwrap(), big);
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        assert_eq!(std::fs::read(&q).unwrap(), b"b: 2\n");
    }

    #[test]
    fn pipe_stash_unread_values_do_not_block_the_drop() {
        let mut stash = PipeStash::new();
        stash.add("v", &vec![b'a'; 300 * 1024]).unwrap();
        stash.handed_over();
        drop(stash);
    }
}
