//! `exec-env` and `exec-file`: hand the plaintext to a command without leaving it on disk.

use crate::cli::args::{DecryptFlags, ExecEnvArgs, ExecFileArgs, FormatArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};

use super::run_as::{self, Account};
use rsops::sys::scratch::ScratchDir;
use rsops::tree::{Document, MapItem, Node, Scalar};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use zeroize::Zeroizing;

fn decrypt(
    global: &GlobalArgs,
    file: &Path,
    format: &FormatArgs,
    flags: &DecryptFlags,
    keys: &dyn rsops::keys::KeyService,
) -> Result<(Document, Box<dyn rsops::stores::Store>), CliError> {
    let target = super::common::Target::new(global, file, format)?;
    let order = crate::cli::plan::decryption_order(flags.decryption_order.as_deref())?;
    let opened = target
        .load()?
        .decrypt(keys, &order, super::common::mac_check(flags))?;
    Ok((opened.into_document(), target.out_store))
}

/// The environment text of a value: sops's `ValToString`, as for dotenv output.
fn env_value(scalar: &Scalar) -> Zeroizing<String> {
    let bytes = Zeroizing::new(rsops::stores::dotenv::val_to_string(scalar));
    Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
}

fn env_pairs(doc: &Document) -> Result<Vec<(String, Zeroizing<String>)>, CliError> {
    let mut pairs = Vec::new();
    for item in doc
        .branches
        .first()
        .map(|b| b.items.as_slice())
        .unwrap_or_default()
    {
        let MapItem::Entry { key, value } = item else {
            continue;
        };
        let Node::Scalar(scalar) = value else {
            return Err(CliError::new(
                exit::ERROR_GENERIC,
                format!("cannot use the nested value `{key}` in the environment"),
            )
            .hint("exec-env needs a flat file; use exec-file for nested documents"));
        };
        if key.contains('=') || key.is_empty() {
            return Err(CliError::new(
                exit::ERROR_GENERIC,
                format!("cannot use the key `{key}` as an environment variable name"),
            ));
        }
        pairs.push((key.clone(), env_value(scalar)));
    }
    Ok(pairs)
}

/// The variables of every file, in file order: set one after the other, a later file's value
/// replaces an earlier one's (as with several `--env-file`s in docker or compose).
fn env_of_files(
    global: &GlobalArgs,
    args: &ExecEnvArgs,
) -> Result<Vec<(String, Zeroizing<String>)>, CliError> {
    let keys = crate::cli::plan::key_service(global);
    let mut pairs = Vec::new();
    for file in &args.files {
        let named = |e: CliError| {
            if args.files.len() > 1 {
                e.prefixed(&file.display().to_string())
            } else {
                e
            }
        };
        let (doc, _) =
            decrypt(global, file, &args.format, &args.decrypt, keys.as_ref()).map_err(named)?;
        pairs.extend(env_pairs(&doc).map_err(named)?);
    }
    Ok(pairs)
}

/// `/bin/sh -c command`, as `user` when given (with the user's groups and HOME/USER/LOGNAME).
fn shell(command: &str, user: Option<&Account>) -> Command {
    let program: Vec<OsString> = vec!["/bin/sh".into(), "-c".into(), command.into()];
    match user {
        Some(account) => account.command(&program),
        None => {
            let mut cmd = Command::new(&program[0]);
            cmd.args(&program[1..]);
            cmd
        }
    }
}

/// The child's exit code, or 128 + the signal that killed it, as a shell reports it.
fn exit_code(status: ExitStatus) -> u8 {
    status
        .code()
        .map(|c| c as u8)
        .or_else(|| {
            status
                .signal()
                .map(|s| exit::KILLED_BY_SIGNAL.wrapping_add(s as u8))
        })
        .unwrap_or(exit::ERROR_GENERIC)
}

fn run_child(mut cmd: Command) -> Result<u8, CliError> {
    let status = rsops::sys::signals::with_foreground_child(|| cmd.status()).map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("could not run the command: {e}"),
        )
    })?;
    Ok(exit_code(status))
}

pub fn run_env(global: &GlobalArgs, args: &ExecEnvArgs) -> Result<u8, CliError> {
    let pairs = env_of_files(global, args)?;
    let user = args.user.as_deref().map(run_as::lookup).transpose()?;
    let mut cmd = shell(&args.command, user.as_ref());
    if args.pristine {
        cmd.env_clear();
    }
    // sops's order: the inherited environment, the user's, then the file's values.
    cmd.envs(user.iter().flat_map(|account| account.env()));
    for (key, value) in &pairs {
        cmd.env(key, value.as_str());
    }
    if args.same_process {
        let err = cmd.exec();
        return Err(CliError::new(
            exit::ERROR_GENERIC,
            format!("could not run the command: {err}"),
        ));
    }
    run_child(cmd)
}

/// Feeds `bytes` into the FIFO once the command opens it; gives up when the command exits
/// without reading, so rsops never blocks on a reader that will not come. The directory may
/// belong to the command's user (`--user`), who could swap the FIFO for a link or another file:
/// links are not followed and only the FIFO rsops made (same inode) gets the bytes.
fn feed_fifo(path: &Path, bytes: Zeroizing<Vec<u8>>, done: Arc<AtomicBool>) {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let Ok(made) = std::fs::symlink_metadata(path) else {
        return;
    };
    loop {
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(
                (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW).bits() as i32,
            )
            .open(path);
        match opened {
            Ok(mut fifo) => {
                let same = fifo
                    .metadata()
                    .is_ok_and(|m| (m.dev(), m.ino()) == (made.dev(), made.ino()));
                if !same {
                    return;
                }
                let _ = rustix::fs::fcntl_setfl(&fifo, rustix::fs::OFlags::empty());
                // A reader that closes early gets what it read; that is not rsops's failure.
                let _ = fifo.write_all(&bytes);
                return;
            }
            Err(_) if done.load(Ordering::SeqCst) => return,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
}

/// The hidden first argument that makes rsops the supervisor of an `exec-file` command.
pub const SUPERVISE: &str = "__rsops-supervise";

/// `/bin/sh -c command`, started through rsops's own supervisor ([`supervise`]), both as
/// `user` when given (with the user's groups and HOME/USER/LOGNAME).
fn supervised(command: &str, user: Option<&Account>, path: &Path, fifo: bool) -> Command {
    let program: Vec<OsString> = vec![
        run_as::own_exe().into(),
        SUPERVISE.into(),
        std::process::id().to_string().into(),
        (if fifo { "fifo" } else { "file" }).into(),
        path.into(),
        "/bin/sh".into(),
        "-c".into(),
        command.into(),
    ];
    let mut cmd = match user {
        Some(account) => account.command(&program),
        None => {
            let mut cmd = Command::new(&program[0]);
            cmd.args(&program[1..]);
            cmd
        }
    };
    cmd.envs(user.iter().flat_map(|account| account.env()));
    cmd
}

/// The supervisor between rsops and an `exec-file` command: when rsops dies without cleaning up
/// (SIGKILL), it wakes the command if it waits on the FIFO that will never get a writer, and
/// removes the scratch directory once the command is done. It keeps running through the
/// signals a terminal sends its whole process group, so the command, not it, decides.
/// Arguments: parent pid, `fifo`|`file`, the path, then the command.
pub fn supervise(args: &[std::ffi::OsString]) -> u8 {
    let [parent, kind, path, program, rest @ ..] = args else {
        return exit::ERROR_GENERIC;
    };
    let parent: i32 = parent.to_str().and_then(|p| p.parse().ok()).unwrap_or(0);
    let path = Path::new(path);
    let _ignore = signal_hook::iterator::Signals::new(rsops::sys::signals::TERMINATING);
    let mut child = match Command::new(program).args(rest).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("error: could not run the command: {e}");
            return exit::COMMAND_NOT_FOUND;
        }
    };
    let orphaned = || rustix::process::getppid().map(|p| p.as_raw_nonzero().get()) != Some(parent);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if orphaned() && kind == "fifo" {
            wake_own_fifos(parent, path);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    if orphaned() {
        remove_own_scratch(parent, path);
    }
    status.map(exit_code).unwrap_or(1)
}

/// The scratch directory of `parent` that holds `path`, when its name says it is that one.
fn own_scratch(parent: i32, path: &Path) -> Option<&Path> {
    let dir = path.parent()?;
    let mine = format!("{}{parent}-", rsops::sys::scratch::PREFIX);
    dir.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(&mine))
        .then_some(dir)
}

/// Removes the scratch directory of the dead `parent`, and only that.
fn remove_own_scratch(parent: i32, path: &Path) {
    if let Some(dir) = own_scratch(parent, path) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Wakes the readers of every FIFO of the dead `parent` (one per file of the command), so a
/// command waiting on one that will never get a writer goes on.
fn wake_own_fifos(parent: i32, path: &Path) {
    rsops::sys::signals::wake_fifo_readers(path);
    let Some(entries) = own_scratch(parent, path).and_then(|d| std::fs::read_dir(d).ok()) else {
        return;
    };
    for entry in entries.flatten() {
        rsops::sys::signals::wake_fifo_readers(&entry.path());
    }
}

/// `{}` becomes the paths, each one shell word: a file name such as `x;touch y` is data, never
/// code.
fn substitute_paths(command: &str, paths: &[PathBuf]) -> Result<String, CliError> {
    let mut words = Vec::with_capacity(paths.len());
    for path in paths {
        let path = path.to_string_lossy();
        let word = shlex::try_quote(&path).map_err(|e| {
            CliError::new(
                exit::ERROR_GENERIC,
                format!("cannot pass the file name to the shell: {e}"),
            )
        })?;
        words.push(word.into_owned());
    }
    Ok(command.replace("{}", &words.join(" ")))
}

/// The name each plaintext gets in the private directory: `--filename` (or sops's `tmp-file`)
/// for one file; with several, each file's own name, which must then differ.
fn scratch_names(args: &ExecFileArgs) -> Result<Vec<String>, CliError> {
    if let [_] = args.files.as_slice() {
        return match args.filename.as_deref() {
            // sops 3.13's wording; a name with a `/` would point outside the private directory.
            Some(n) if n.contains('/') || n == ".." || n == "." => Err(CliError::new(
                exit::ERROR_GENERIC,
                "The provided filename is not a local path.",
            )
            .hint("give --filename a plain file name such as `config.yaml`")),
            // sops's default name, so commands written for sops see the same path shape; as in
            // sops, an empty --filename means the default.
            None | Some("") => Ok(vec!["tmp-file".to_string()]),
            Some(n) => Ok(vec![n.to_string()]),
        };
    }
    if args.filename.as_deref().is_some_and(|n| !n.is_empty()) {
        return Err(CliError::new(
            exit::ERROR_CONFLICTING_PARAMETERS,
            "cannot use --filename with several files",
        )
        .hint("with several files each keeps its own name"));
    }
    let mut names: Vec<String> = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.is_empty() || names.contains(&name) {
            return Err(CliError::new(
                exit::ERROR_CONFLICTING_PARAMETERS,
                format!("two files would both be named `{name}` for the command"),
            )
            .hint("run once per file, or rename one of them"));
        }
        names.push(name);
    }
    Ok(names)
}

/// Every file's plaintext, in its output format, with one key service for all of them.
fn plaintexts(
    global: &GlobalArgs,
    args: &ExecFileArgs,
) -> Result<Vec<Zeroizing<Vec<u8>>>, CliError> {
    let keys = crate::cli::plan::key_service(global);
    let several = args.files.len() > 1;
    let mut plaintexts = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let named = |e: CliError| {
            if several {
                e.prefixed(&file.display().to_string())
            } else {
                e
            }
        };
        let (doc, out_store) =
            decrypt(global, file, &args.format, &args.decrypt, keys.as_ref()).map_err(named)?;
        let plaintext = out_store
            .emit_plain(&doc)
            .map_err(|e| named(rsops::file::Error::from(e).into()))?;
        plaintexts.push(Zeroizing::new(plaintext));
    }
    Ok(plaintexts)
}

pub fn run_file(global: &GlobalArgs, args: &ExecFileArgs) -> Result<u8, CliError> {
    let user = args.user.as_deref().map(run_as::lookup).transpose()?;
    let plaintexts = plaintexts(global, args)?;
    crate::cli::catch_terminating_signals();
    let scratch = ScratchDir::new().map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("could not create a private temporary directory: {e}"),
        )
    })?;
    let names = scratch_names(args)?;
    let fail = |e: std::io::Error| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("could not prepare the file for the command: {e}"),
        )
    };
    let mut paths = Vec::with_capacity(names.len());
    for (name, plaintext) in names.iter().zip(&plaintexts) {
        let path = if args.no_fifo {
            scratch.write_private(name, plaintext).map_err(fail)?
        } else {
            scratch.make_fifo(name).map_err(fail)?
        };
        if let Some(account) = &user {
            scratch.hand_over(name, account.owner()).map_err(fail)?;
        }
        paths.push(path);
    }
    let command = substitute_paths(&args.command, &paths)?;
    let cmd = supervised(&command, user.as_ref(), &paths[0], !args.no_fifo);
    let code = if args.no_fifo {
        drop(plaintexts);
        run_child(cmd)?
    } else {
        let done = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = paths
            .iter()
            .zip(plaintexts)
            .map(|(path, plaintext)| {
                let (path, done) = (path.clone(), done.clone());
                std::thread::spawn(move || feed_fifo(&path, plaintext, done))
            })
            .collect();
        let code = run_child(cmd);
        done.store(true, Ordering::SeqCst);
        for writer in writers {
            let _ = writer.join();
        }
        code?
    };
    drop(scratch);
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_one_shell_word() {
        let cmd = substitute_paths(
            "cat {} {}",
            &[PathBuf::from("/t/.rsops-1-a/x;touch P $(id)")],
        )
        .unwrap();
        assert_eq!(
            shlex::split(&cmd).unwrap(),
            [
                "cat",
                "/t/.rsops-1-a/x;touch P $(id)",
                "/t/.rsops-1-a/x;touch P $(id)"
            ]
        );
        // Ordinary paths stay as they were, so commands written for sops (`'{}'`) still work.
        let plain =
            substitute_paths("cat '{}'", &[PathBuf::from("/tmp/.rsops-1-a/tmp-file")]).unwrap();
        assert_eq!(plain, "cat '/tmp/.rsops-1-a/tmp-file'");
    }

    #[test]
    fn several_paths_are_several_words() {
        let paths = [PathBuf::from("/t/a.yaml"), PathBuf::from("/t/b c.env")];
        let cmd = substitute_paths("cat {}", &paths).unwrap();
        assert_eq!(
            shlex::split(&cmd).unwrap(),
            ["cat", "/t/a.yaml", "/t/b c.env"]
        );
    }
}
