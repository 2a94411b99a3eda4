//! Private scratch space for plaintext that must briefly exist as a file (the editor, exec-file):
//! a 0700 directory with 0600 files, removed when the guard drops, when rsops is stopped by a
//! catchable signal (the directory is registered with `sys::signals`), and after SIGKILL by the
//! next run that makes one (the sweep), so no plaintext outlives the command for long.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Scratch directories are `$TMPDIR/.rsops-<pid>-<random>`: the pid tells a later run whether
/// the owner is gone (see [`sweep_stale`]).
pub const PREFIX: &str = ".rsops-";

pub struct ScratchDir {
    dir: Option<tempfile::TempDir>,
}

impl ScratchDir {
    /// A new private (0700) directory under `$TMPDIR`, after sweeping the ones of dead runs.
    pub fn new() -> std::io::Result<ScratchDir> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = std::env::temp_dir();
        sweep_stale(&tmp, PREFIX);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(tmp)?;
        super::signals::remember_dir(dir.path());
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
        super::signals::remember_fifo(&path);
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
            super::signals::forget_dir(&path);
        }
    }
}

/// Removes the directories `<prefix><pid>-…` in `tmp` that runs killed by SIGKILL (or a power
/// loss) left: only real directories (never through a link), only this user's, and only when
/// process `pid` is gone. Best effort: a sweep that cannot read `tmp` leaves it alone.
pub fn sweep_stale(tmp: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !process_alive(pid) && is_our_real_dir(&entry.path()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn process_alive(pid: i32) -> bool {
    rustix::process::Pid::from_raw(pid).is_none_or(|pid| !super::process_gone(pid))
}

fn is_our_real_dir(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .map(|m| m.is_dir() && m.uid() == rustix::process::getuid().as_raw())
        .unwrap_or(false)
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

    #[test]
    fn sweep_removes_only_our_dirs_of_dead_runs() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let dead = gone.id();
        gone.wait().unwrap();
        let live = std::process::id();
        let at = |name: String| tmp.path().join(name);
        let dead_dir = at(format!(".rsops-{dead}-a"));
        let live_dir = at(format!(".rsops-{live}-b"));
        let dead_file = at(format!(".rsops-{dead}-c.tmp"));
        let dead_link = at(format!(".rsops-{dead}-d"));
        let target = at("target".into());
        for dir in [&dead_dir, &live_dir, &target] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("plain"), "x").unwrap();
        }
        std::fs::write(&dead_file, "x").unwrap();
        std::os::unix::fs::symlink(&target, &dead_link).unwrap();
        let foreign = at(format!(".rsops-{dead}-e"));
        std::fs::create_dir(&foreign).unwrap();
        let as_root = rustix::process::geteuid().is_root();
        if as_root {
            std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        }
        sweep_stale(tmp.path(), PREFIX);
        assert!(!dead_dir.exists());
        assert!(live_dir.join("plain").exists());
        assert!(dead_file.exists());
        assert!(dead_link.symlink_metadata().is_ok() && target.join("plain").exists());
        if as_root {
            assert_eq!(foreign.metadata().unwrap().uid(), 65534);
        }
    }
}
