//! Private scratch space for plaintext that must briefly exist as a file (the editor, exec-file):
//! a 0700 directory with 0600 files, removed when the guard drops and also when rsops is
//! interrupted (SIGINT, SIGTERM, SIGHUP), so no plaintext outlives the command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();
/// While an interactive child (an editor) runs in the foreground it owns Ctrl+C: vim uses it to
/// cancel a command, so SIGINT must not tear the editor's file away.
static FOREGROUND_CHILD: AtomicBool = AtomicBool::new(false);

/// Runs `f` (which runs an interactive child) with SIGINT left to that child.
pub fn with_foreground_child<T>(f: impl FnOnce() -> T) -> T {
    FOREGROUND_CHILD.store(true, Ordering::SeqCst);
    let result = f();
    FOREGROUND_CHILD.store(false, Ordering::SeqCst);
    result
}

/// Removes every live scratch directory; called from the signal thread before exiting.
fn remove_all() {
    if let Ok(dirs) = LIVE_DIRS.lock() {
        for dir in dirs.iter() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Starts (once) a thread that, on SIGINT/SIGTERM/SIGHUP, removes all scratch directories and
/// exits with 128 + the signal number, as a shell would report it.
fn install_signal_cleanup() {
    HANDLER.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    if signal == SIGINT && FOREGROUND_CHILD.load(Ordering::SeqCst) {
                        continue;
                    }
                    remove_all();
                    std::process::exit(128 + signal);
                }
            });
        }
    });
}

pub struct ScratchDir {
    dir: Option<tempfile::TempDir>,
}

impl ScratchDir {
    /// A new private (0700) directory under `$TMPDIR`.
    pub fn new() -> std::io::Result<ScratchDir> {
        use std::os::unix::fs::PermissionsExt;
        install_signal_cleanup();
        let dir = tempfile::Builder::new()
            .prefix(".rsops-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        LIVE_DIRS
            .lock()
            .expect("scratch registry lock")
            .push(dir.path().to_path_buf());
        Ok(ScratchDir { dir: Some(dir) })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until drop").path()
    }

    /// Creates `name` inside the directory with mode 0600 and writes `bytes` to it.
    pub fn write_private(&self, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path().join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(path)
    }

    /// Creates a FIFO `name` (mode 0600) inside the directory, so plaintext never touches disk.
    pub fn make_fifo(&self, name: &str) -> std::io::Result<PathBuf> {
        let path = self.path().join(name);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )?;
        Ok(path)
    }
}

/// Who may use a scratch directory besides rsops: the user a command runs as (`--user`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl ScratchDir {
    /// Gives the directory and its entry `name` to `owner`, keeping their 0700/0600 modes, so
    /// that user alone can read it. The entry goes first, through the still-private directory's
    /// descriptor and without following links; the directory last, because from then on its
    /// new owner may change what is in it.
    pub fn hand_over(&self, name: &str, owner: Owner) -> std::io::Result<()> {
        use rustix::fs::{AtFlags, Gid, OFlags, Uid};
        let (uid, gid) = (
            Some(Uid::from_raw_unchecked(owner.uid)),
            Some(Gid::from_raw_unchecked(owner.gid)),
        );
        let dir = rustix::fs::open(
            self.path(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        rustix::fs::chownat(&dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
        rustix::fs::fchown(&dir, uid, gid)?;
        Ok(())
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            let _ = dir.close();
            if let Ok(mut dirs) = LIVE_DIRS.lock() {
                dirs.retain(|d| d != &path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    #[test]
    fn private_modes_and_removal() {
        let scratch = ScratchDir::new().unwrap();
        let dir = scratch.path().to_path_buf();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let file = scratch.write_private("secret.yaml", b"x: 1\n").unwrap();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let fifo = scratch.make_fifo("pipe").unwrap();
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        drop(scratch);
        assert!(!dir.exists());
    }

    #[test]
    fn hand_over_gives_the_dir_and_entry_to_one_user() {
        use std::os::unix::fs::MetadataExt;
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: changing owners needs root");
            return;
        }
        let scratch = ScratchDir::new().unwrap();
        let file = scratch.write_private("f", b"x").unwrap();
        let owner = Owner {
            uid: 65534,
            gid: 65534,
        };
        scratch.hand_over("f", owner).unwrap();
        for path in [&file, &scratch.path().to_path_buf()] {
            let meta = std::fs::symlink_metadata(path).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
        }
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(scratch.path()).unwrap().mode() & 0o777,
            0o700
        );
    }
}
