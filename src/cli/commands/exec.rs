//! `exec-env` and `exec-file`: hand the plaintext to a command without leaving it on disk.

use crate::cli::args::{DecryptFlags, ExecEnvArgs, ExecFileArgs, FormatArgs, GlobalArgs};
use crate::cli::exit::{self, CliError};

use rsops::sys::scratch::ScratchDir;
use rsops::tree::{Document, MapItem, Node, Scalar};
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use zeroize::Zeroizing;

fn decrypt(
    global: &GlobalArgs,
    file: &Path,
    format: &FormatArgs,
    flags: &DecryptFlags,
) -> Result<(Document, Box<dyn rsops::stores::Store>), CliError> {
    let target = super::common::Target::new(global, file, format)?;
    let order = crate::cli::plan::decryption_order(flags.decryption_order.as_deref())?;
    let keys = rsops::keys::EnvKeys::from_env();
    let opened = target
        .load()?
        .decrypt(&keys, &order, super::common::mac_check(flags))?;
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

/// uid and gid of a local user, from /etc/passwd.
fn lookup_user(name: &str) -> Result<(u32, u32), CliError> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() >= 4 && fields[0] == name)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))?
        })
        .next()
        .ok_or_else(|| CliError::new(exit::ERROR_GENERIC, format!("no user named `{name}`")))
}

fn shell(command: &str, user: Option<&str>) -> Result<Command, CliError> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    if let Some(user) = user {
        let (uid, gid) = lookup_user(user)?;
        cmd.gid(gid).uid(uid);
    }
    Ok(cmd)
}

/// The child's exit code, or 128 + the signal that killed it, as a shell reports it.
fn exit_code(status: ExitStatus) -> u8 {
    status
        .code()
        .map(|c| c as u8)
        .or_else(|| status.signal().map(|s| (128 + s) as u8))
        .unwrap_or(1)
}

fn run_child(mut cmd: Command) -> Result<u8, CliError> {
    let status = rsops::sys::scratch::with_foreground_child(|| cmd.status()).map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("could not run the command: {e}"),
        )
    })?;
    Ok(exit_code(status))
}

pub fn run_env(global: &GlobalArgs, args: &ExecEnvArgs) -> Result<u8, CliError> {
    let (doc, _) = decrypt(global, &args.file, &args.format, &args.decrypt)?;
    let pairs = env_pairs(&doc)?;
    drop(doc);
    let mut cmd = shell(&args.command, args.user.as_deref())?;
    if args.pristine {
        cmd.env_clear();
    }
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
/// without reading, so rsops never blocks on a reader that will not come.
fn feed_fifo(path: &Path, bytes: Zeroizing<Vec<u8>>, done: Arc<AtomicBool>) {
    use std::os::unix::fs::OpenOptionsExt;
    loop {
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(path);
        match opened {
            Ok(mut fifo) => {
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

pub fn run_file(global: &GlobalArgs, args: &ExecFileArgs) -> Result<u8, CliError> {
    let (doc, out_store) = decrypt(global, &args.file, &args.format, &args.decrypt)?;
    let plaintext = Zeroizing::new(
        out_store
            .emit_plain(&doc)
            .map_err(rsops::file::Error::from)?,
    );
    drop(doc);
    let scratch = ScratchDir::new().map_err(|e| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("could not create a private temporary directory: {e}"),
        )
    })?;
    let name = match &args.filename {
        Some(n) if n.contains('/') || n == ".." || n.is_empty() => {
            return Err(CliError::new(
                exit::ERROR_GENERIC,
                "--filename must be a plain file name, not a path",
            ))
        }
        Some(n) => n.clone(),
        // sops's default name, so commands written for sops see the same path shape.
        None => "tmp-file".to_string(),
    };
    let fail = |e: std::io::Error| {
        CliError::new(
            exit::ERROR_GENERIC,
            format!("could not prepare the file for the command: {e}"),
        )
    };
    let path = if args.no_fifo {
        scratch.write_private(&name, &plaintext).map_err(fail)?
    } else {
        scratch.make_fifo(&name).map_err(fail)?
    };
    let command = args.command.replace("{}", &path.to_string_lossy());
    let cmd = shell(&command, args.user.as_deref())?;
    let code = if args.no_fifo {
        run_child(cmd)?
    } else {
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, done) = (path.clone(), done.clone());
            std::thread::spawn(move || feed_fifo(&path, plaintext, done))
        };
        let code = run_child(cmd);
        done.store(true, Ordering::SeqCst);
        let _ = writer.join();
        code?
    };
    drop(scratch);
    Ok(code)
}
