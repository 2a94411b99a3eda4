//! Atomic replacement of a file that may sit in a directory other users can write to (`/tmp`, a
//! shared checkout), by a process that may be root.
//!
//! The directory is opened once and everything after that is relative to its descriptor; the
//! temporary file is touched only through its own descriptor (`fchown`, `fchmod`, `fsync`), so a
//! name swapped for a symlink can never redirect a change of owner or mode to another file. The
//! only name-based steps are the link of the finished temp and the rename over the target, and
//! both act on directory entries, never on what a symlink points to.
//!
//! The temp is unnamed (`O_TMPFILE`) while it is written, so a kill mid-write leaves nothing; it
//! gets a `.rsops-<pid>-<random>.tmp` name only once complete. Where the filesystem has no
//! `O_TMPFILE` the temp is named from the start, and a later run sweeps what a killed one left.

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What the new contents are: plaintext is never left readable by group or others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contents {
    Plaintext,
    Ciphertext,
}

/// Which existing targets may be replaced. Both default to refusing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// A file with no write bit for anyone: sops fails to open it for writing, so an in-place
    /// rewrite refuses it too. An `--output` target the user named explicitly may be replaced.
    pub allow_read_only: bool,
    /// A file with several hard links: the rename gives this name a new file and leaves the old
    /// contents (often plaintext) under every other name.
    pub allow_hard_links: bool,
}

/// The step of a write that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Resolving,
    OpeningDirectory,
    Inspecting,
    Creating,
    Writing,
    SettingOwner,
    SettingPermissions,
    Syncing,
    Linking,
    Renaming,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Resolving => "resolving the path",
            Step::OpeningDirectory => "opening the directory",
            Step::Inspecting => "inspecting the existing file",
            Step::Creating => "creating a temporary file",
            Step::Writing => "writing",
            Step::SettingOwner => "setting the owner",
            Step::SettingPermissions => "setting permissions",
            Step::Syncing => "syncing",
            Step::Linking => "linking the temporary file",
            Step::Renaming => "renaming into place",
        })
    }
}

/// Why a file was not replaced. In every case the original is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// No write bit for anyone. Decided from the mode, not `access()`, because root passes every
    /// access check and would otherwise overwrite files their owner marked read-only.
    #[error("{}: permission denied (the file is read-only, mode {mode:04o})", path.display())]
    ReadOnly { path: PathBuf, mode: u32 },
    #[error("{} has {links} hard links", path.display())]
    HardLinked { path: PathBuf, links: u64 },
    #[error("{}: is a directory", path.display())]
    IsDirectory { path: PathBuf },
    #[error("{} was replaced by someone else while rsops was writing it", path.display())]
    Tampered { path: PathBuf },
    #[error("{step}: {source}")]
    Io {
        step: Step,
        #[source]
        source: std::io::Error,
    },
}

fn io(step: Step) -> impl FnOnce(std::io::Error) -> WriteError {
    move |source| WriteError::Io { step, source }
}

fn errno(step: Step) -> impl FnOnce(Errno) -> WriteError {
    move |e| WriteError::Io {
        step,
        source: e.into(),
    }
}

/// Replaces the file at `path` (or creates it) with `bytes`, atomically. A symlink is written
/// through: its final target is replaced in its own directory. An existing file keeps its owner,
/// group and permission bits (setuid/setgid dropped); plaintext is capped at 0600.
pub fn replace(
    path: &Path,
    bytes: &[u8],
    contents: Contents,
    policy: Policy,
) -> Result<(), WriteError> {
    replace_with(
        path,
        bytes,
        contents,
        policy,
        TempKind::Unnamed,
        &mut |_| {},
    )
}

/// How the temporary file starts its life; tests force the named fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TempKind {
    Unnamed,
    /// Production reaches the named path only through a filesystem without `O_TMPFILE`.
    #[cfg_attr(not(test), allow(dead_code))]
    Named,
}

/// [`replace`], with `on_named` called as soon as the temp has a name in the directory: the
/// moment a local attacker could swap it, which tests use to do exactly that.
fn replace_with(
    path: &Path,
    bytes: &[u8],
    contents: Contents,
    policy: Policy,
    kind: TempKind,
    on_named: &mut dyn FnMut(&Path),
) -> Result<(), WriteError> {
    if write_special(path, bytes)? {
        return Ok(());
    }
    let (dir_path, name) = resolve(path).map_err(io(Step::Resolving))?;
    let dir = open_dir(&dir_path).map_err(errno(Step::OpeningDirectory))?;
    let existing = existing(&dir, &name, path)?;
    if let Some(existing) = &existing {
        refuse_unsafe(existing, path, policy)?;
    }
    sweep_stale(&dir);
    let (file, mut temp) = create_temp(&dir, kind)?;
    if let Some(temp) = &temp {
        on_named(&dir_path.join(&temp.name));
    }
    (&file).write_all(bytes).map_err(io(Step::Writing))?;
    set_owner(&file, existing.as_ref())?;
    let mode = final_mode(existing.as_ref(), contents);
    rfs::fchmod(&file, Mode::from_raw_mode(mode)).map_err(errno(Step::SettingPermissions))?;
    rfs::fsync(&file).map_err(errno(Step::Syncing))?;
    let temp = match temp.take() {
        Some(temp) => temp,
        None => {
            let temp = link_unnamed(&dir, &file)?;
            on_named(&dir_path.join(&temp.name));
            temp
        }
    };
    ensure_ours(&dir, &temp, &file, path)?;
    match rfs::renameat(&dir, &temp.name, &dir, &name) {
        Ok(()) => {}
        // Our temp's name vanished after the check above: someone removed it.
        Err(Errno::NOENT) => {
            return Err(WriteError::Tampered {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(errno(Step::Renaming)(e)),
    }
    temp.disarm();
    // Makes the rename itself durable; failing here cannot lose data, so it is not an error.
    let _ = rfs::fsync(&dir);
    Ok(())
}

/// A device or FIFO (`--output /dev/stdout`) is written to directly, as sops does: there is
/// nothing to replace atomically. Returns whether it was one.
fn write_special(path: &Path, bytes: &[u8]) -> Result<bool, WriteError> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(false);
    };
    if meta.is_dir() {
        return Err(WriteError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    if meta.is_file() {
        return Ok(false);
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(Step::Creating))?;
    file.write_all(bytes).map_err(io(Step::Writing))?;
    Ok(true)
}

/// The directory and name of the file to replace: symlinks followed to the end of the chain,
/// also to a target that does not exist yet.
fn resolve(path: &Path) -> std::io::Result<(PathBuf, OsString)> {
    let target = match std::fs::canonicalize(path) {
        Ok(target) => target,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => follow_to_new_name(path)?,
        Err(e) => return Err(e),
    };
    split(&target)
}

/// Where a path that does not exist will be created: through dangling symlinks (sops creates
/// their target too), in a directory that must exist.
fn follow_to_new_name(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = std::path::absolute(path)?;
    // The kernel's own limit on a chain of links; beyond it, a loop.
    for _ in 0..40 {
        let Ok(next) = std::fs::read_link(&current) else {
            let (dir, name) = split(&current)?;
            return Ok(std::fs::canonicalize(dir)?.join(name));
        };
        current = current.parent().unwrap_or(Path::new("/")).join(next);
    }
    Err(std::io::Error::from_raw_os_error(
        Errno::LOOP.raw_os_error(),
    ))
}

fn split(path: &Path) -> std::io::Result<(PathBuf, OsString)> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            Ok((dir.to_path_buf(), name.to_os_string()))
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        )),
    }
}

fn open_dir(dir: &Path) -> Result<OwnedFd, Errno> {
    rfs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// What the replacement must preserve of the file it replaces.
#[derive(Clone, Copy, Debug)]
struct Existing {
    mode: u32,
    uid: u32,
    gid: u32,
    links: u64,
}

/// The file now at `name`, looked at without following a symlink: one that appeared since
/// [`resolve`] means someone is playing with the directory.
fn existing(dir: &OwnedFd, name: &OsString, path: &Path) -> Result<Option<Existing>, WriteError> {
    let stat = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(errno(Step::Inspecting)(e)),
    };
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok(Some(Existing {
            mode: stat.st_mode & 0o7777,
            uid: stat.st_uid,
            gid: stat.st_gid,
            links: stat.st_nlink,
        })),
        FileType::Directory => Err(WriteError::IsDirectory {
            path: path.to_path_buf(),
        }),
        _ => Err(WriteError::Tampered {
            path: path.to_path_buf(),
        }),
    }
}

fn refuse_unsafe(existing: &Existing, path: &Path, policy: Policy) -> Result<(), WriteError> {
    if existing.mode & 0o222 == 0 && !policy.allow_read_only {
        return Err(WriteError::ReadOnly {
            path: path.to_path_buf(),
            mode: existing.mode,
        });
    }
    if existing.links > 1 && !policy.allow_hard_links {
        return Err(WriteError::HardLinked {
            path: path.to_path_buf(),
            links: existing.links,
        });
    }
    Ok(())
}

/// The replacement's permission bits. Setuid/setgid are dropped: a rewritten file is not the
/// program someone once marked privileged.
fn final_mode(existing: Option<&Existing>, contents: Contents) -> u32 {
    let base = match (existing, contents) {
        (Some(existing), _) => existing.mode & !0o6000,
        (None, Contents::Plaintext) => 0o600 & !current_umask(),
        (None, Contents::Ciphertext) => 0o666 & !current_umask(),
    };
    match contents {
        Contents::Plaintext => base & 0o600,
        Contents::Ciphertext => base,
    }
}

/// The process umask. Reading it means setting it; the strict value in between only ever makes
/// a file another thread creates meanwhile more private.
fn current_umask() -> u32 {
    let old = rustix::process::umask(Mode::from_raw_mode(0o077));
    rustix::process::umask(old);
    old.as_raw_mode()
}

/// Gives the temp the existing file's owner and group, so root rewriting a user's file does not
/// make it root's. Without the privilege to (EPERM) the file becomes ours, as any editor's would.
fn set_owner(file: &File, existing: Option<&Existing>) -> Result<(), WriteError> {
    let Some(existing) = existing else {
        return Ok(());
    };
    let stat = rfs::fstat(file).map_err(errno(Step::SettingOwner))?;
    if stat.st_uid == existing.uid && stat.st_gid == existing.gid {
        return Ok(());
    }
    let uid = rfs::Uid::from_raw(existing.uid);
    let gid = rfs::Gid::from_raw(existing.gid);
    match rfs::fchown(file, Some(uid), Some(gid)) {
        Ok(()) | Err(Errno::PERM) => Ok(()),
        Err(e) => Err(errno(Step::SettingOwner)(e)),
    }
}

/// A temp's name in the directory, removed again unless [`NamedTemp::disarm`] is called: after a
/// failure the directory holds what it held before.
struct NamedTemp<'a> {
    dir: &'a OwnedFd,
    name: String,
    armed: bool,
}

impl NamedTemp<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for NamedTemp<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Removes the directory entry only, whatever it is now; never follows it.
            let _ = rfs::unlinkat(self.dir, &self.name, AtFlags::empty());
        }
    }
}

const TEMP_PREFIX: &str = ".rsops-";
const TEMP_SUFFIX: &str = ".tmp";

fn temp_name() -> String {
    let pid = rustix::process::getpid().as_raw_nonzero();
    format!(
        "{TEMP_PREFIX}{pid}-{:016x}{TEMP_SUFFIX}",
        rand::random::<u64>()
    )
}

/// Opens the temp, unnamed where the filesystem allows, private (0600) from the first byte.
fn create_temp(dir: &OwnedFd, kind: TempKind) -> Result<(File, Option<NamedTemp<'_>>), WriteError> {
    if kind == TempKind::Unnamed {
        if let Some(file) = create_unnamed(dir)? {
            return Ok((file, None));
        }
    }
    let (file, temp) = create_named(dir)?;
    Ok((file, Some(temp)))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn create_unnamed(dir: &OwnedFd) -> Result<Option<File>, WriteError> {
    let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
    match rfs::openat(dir, ".", flags, Mode::from_raw_mode(0o600)) {
        Ok(fd) => Ok(Some(File::from(fd))),
        // The filesystem (or an old kernel) has no O_TMPFILE.
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => Ok(None),
        Err(e) => Err(errno(Step::Creating)(e)),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn create_unnamed(_dir: &OwnedFd) -> Result<Option<File>, WriteError> {
    Ok(None)
}

fn create_named(dir: &OwnedFd) -> Result<(File, NamedTemp<'_>), WriteError> {
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    loop {
        let name = temp_name();
        match rfs::openat(dir, &name, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => {
                let temp = NamedTemp {
                    dir,
                    name,
                    armed: true,
                };
                return Ok((File::from(fd), temp));
            }
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(errno(Step::Creating)(e)),
        }
    }
}

/// Gives the finished unnamed temp a name. Through `/proc/self/fd`, which needs no privilege;
/// without `/proc`, `AT_EMPTY_PATH`, which works for root.
fn link_unnamed<'a>(dir: &'a OwnedFd, file: &File) -> Result<NamedTemp<'a>, WriteError> {
    use std::os::fd::AsRawFd;
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    loop {
        let name = temp_name();
        let linked = match rfs::linkat(rfs::CWD, &proc_path, dir, &name, AtFlags::SYMLINK_FOLLOW) {
            Err(Errno::NOENT) => rfs::linkat(file, "", dir, &name, AtFlags::EMPTY_PATH),
            other => other,
        };
        match linked {
            Ok(()) => {
                return Ok(NamedTemp {
                    dir,
                    name,
                    armed: true,
                })
            }
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(errno(Step::Linking)(e)),
        }
    }
}

/// The temp's name must still be our file: if someone swapped it, the rename would put their
/// entry (a symlink, say) in place of the target.
fn ensure_ours(
    dir: &OwnedFd,
    temp: &NamedTemp<'_>,
    file: &File,
    path: &Path,
) -> Result<(), WriteError> {
    let ours = rfs::fstat(file).map_err(errno(Step::Inspecting))?;
    let named = rfs::statat(dir, &temp.name, AtFlags::SYMLINK_NOFOLLOW);
    match named {
        Ok(named) if named.st_dev == ours.st_dev && named.st_ino == ours.st_ino => Ok(()),
        _ => Err(WriteError::Tampered {
            path: path.to_path_buf(),
        }),
    }
}

/// Removes temps that killed rsops runs left in `dir`: named `.rsops-<pid>-….tmp` for a pid that
/// no longer runs, regular files, ours. The directory may be an attacker's playground, so
/// entries are looked at without following links and removed relative to the directory; at
/// worst an entry swapped in between is unlinked, and unlinking never touches a link's target.
fn sweep_stale(dir: &OwnedFd) {
    let Ok(mut entries) = rfs::Dir::read_from(dir) else {
        return;
    };
    let me = rustix::process::getpid();
    let uid = rustix::process::geteuid().as_raw();
    while let Some(Ok(entry)) = entries.read() {
        let Some(name) = entry.file_name().to_str().ok() else {
            continue;
        };
        let Some(pid) = stale_temp_pid(name) else {
            continue;
        };
        if pid == me || !super::process_gone(pid) {
            continue;
        }
        let is_ours = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|s| {
            FileType::from_raw_mode(s.st_mode) == FileType::RegularFile && s.st_uid == uid
        });
        if is_ours {
            let _ = rfs::unlinkat(dir, name, AtFlags::empty());
        }
    }
}

/// The pid in a temp name of ours, `.rsops-<pid>-<anything>.tmp`.
fn stale_temp_pid(name: &str) -> Option<rustix::process::Pid> {
    let rest = name.strip_prefix(TEMP_PREFIX)?.strip_suffix(TEMP_SUFFIX)?;
    let (pid, _) = rest.split_once('-')?;
    if !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rustix::process::Pid::from_raw(pid.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn temps(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".rsops-")
            })
            .collect()
    }

    /// Swaps every `.rsops-*` entry in `dir` for a symlink to `victim`.
    fn swap_for_symlinks(dir: &Path, victim: &Path) {
        for temp in temps(dir) {
            std::fs::remove_file(&temp).unwrap();
            std::os::unix::fs::symlink(victim, &temp).unwrap();
        }
    }

    /// The race of the issue, made deterministic: the temp's name becomes a symlink to a private
    /// file the moment it exists. Neither the victim's mode nor its contents may change.
    fn swapped_temp_leaves_victim_alone(kind: TempKind) {
        let shared = tempfile::tempdir().unwrap();
        let private = tempfile::tempdir().unwrap();
        let victim = private.path().join("victim");
        std::fs::write(&victim, "victim").unwrap();
        set_mode(&victim, 0o600);
        let target = shared.path().join("target.yaml");
        std::fs::write(&target, "old").unwrap();
        set_mode(&target, 0o644);
        let dir = shared.path().to_path_buf();
        let result = replace_with(
            &target,
            b"new",
            Contents::Ciphertext,
            Policy::default(),
            kind,
            &mut |_| swap_for_symlinks(&dir, &victim),
        );
        assert!(
            matches!(result, Err(WriteError::Tampered { .. })),
            "{result:?}"
        );
        assert_eq!(mode(&victim), 0o600, "the victim's mode changed");
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert!(
            temps(shared.path()).is_empty(),
            "{:?}",
            temps(shared.path())
        );
    }

    #[test]
    fn swapped_named_temp_never_changes_the_victim() {
        swapped_temp_leaves_victim_alone(TempKind::Named);
    }

    #[test]
    fn swapped_linked_temp_never_changes_the_victim() {
        swapped_temp_leaves_victim_alone(TempKind::Unnamed);
    }

    #[test]
    fn both_temp_kinds_replace_and_keep_the_mode() {
        for kind in [TempKind::Unnamed, TempKind::Named] {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("f");
            std::fs::write(&target, "old").unwrap();
            set_mode(&target, 0o640);
            replace_with(
                &target,
                b"new",
                Contents::Ciphertext,
                Policy::default(),
                kind,
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(std::fs::read(&target).unwrap(), b"new");
            assert_eq!(mode(&target), 0o640, "{kind:?}");
            assert!(temps(dir.path()).is_empty());
        }
    }

    #[test]
    fn setuid_and_setgid_are_dropped_sticky_kept() {
        let existing = Existing {
            mode: 0o7755,
            uid: 0,
            gid: 0,
            links: 1,
        };
        assert_eq!(final_mode(Some(&existing), Contents::Ciphertext), 0o1755);
    }

    #[test]
    fn plaintext_is_capped_at_0600() {
        let with = |mode| Existing {
            mode,
            uid: 0,
            gid: 0,
            links: 1,
        };
        assert_eq!(final_mode(Some(&with(0o644)), Contents::Plaintext), 0o600);
        assert_eq!(final_mode(Some(&with(0o400)), Contents::Plaintext), 0o400);
        assert_eq!(final_mode(Some(&with(0o644)), Contents::Ciphertext), 0o644);
        assert_eq!(final_mode(None, Contents::Plaintext) & !0o600, 0);
    }

    #[test]
    fn temp_names_parse_back_to_our_pid() {
        let name = temp_name();
        assert_eq!(stale_temp_pid(&name), Some(rustix::process::getpid()));
        assert_eq!(
            stale_temp_pid(".rsops-12-x.tmp").map(|p| p.as_raw_nonzero().get()),
            Some(12)
        );
        assert_eq!(stale_temp_pid(".rsops-abc.tmp"), None);
        assert_eq!(stale_temp_pid(".rsops--1-x.tmp"), None);
        assert_eq!(stale_temp_pid(".rsops-0-x.tmp"), None);
        assert_eq!(stale_temp_pid("rsops-12-x.tmp"), None);
    }

    /// A pid that is certainly dead: a child we started and reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn sweep_removes_only_our_dead_regular_temps() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let elsewhere = outside.path().join("kept");
        std::fs::write(&elsewhere, "kept").unwrap();
        let dead = dead_pid();
        let stale = dir.path().join(format!(".rsops-{dead}-x.tmp"));
        let live = dir
            .path()
            .join(format!(".rsops-{}-x.tmp", std::process::id()));
        let link = dir.path().join(format!(".rsops-{dead}-link.tmp"));
        let other = dir.path().join(format!(".rsops-{dead}-dir.tmp"));
        std::fs::write(&stale, "partial").unwrap();
        std::fs::write(&live, "in use").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        std::fs::create_dir(&other).unwrap();
        let fd = open_dir(dir.path()).unwrap();
        sweep_stale(&fd);
        assert!(!stale.exists(), "the stale temp of a dead run was kept");
        assert!(live.exists(), "a live run's temp was removed");
        assert!(link.symlink_metadata().is_ok(), "a symlink was removed");
        assert!(other.is_dir());
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"kept");
    }

    #[test]
    fn read_only_and_hard_linked_targets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        std::fs::write(&target, "old").unwrap();
        set_mode(&target, 0o444);
        let result = replace(&target, b"new", Contents::Ciphertext, Policy::default());
        assert!(
            matches!(result, Err(WriteError::ReadOnly { mode: 0o444, .. })),
            "{result:?}"
        );
        let allow = Policy {
            allow_read_only: true,
            ..Policy::default()
        };
        replace(&target, b"kept 0444", Contents::Plaintext, allow).unwrap();
        assert_eq!(mode(&target), 0o400);
        std::fs::write(&target, "old").unwrap();
        set_mode(&target, 0o644);
        std::fs::hard_link(&target, dir.path().join("g")).unwrap();
        let result = replace(&target, b"new", Contents::Ciphertext, Policy::default());
        assert!(
            matches!(result, Err(WriteError::HardLinked { links: 2, .. })),
            "{result:?}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        let allow = Policy {
            allow_hard_links: true,
            ..Policy::default()
        };
        replace(&target, b"new", Contents::Ciphertext, allow).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read(dir.path().join("g")).unwrap(), b"old");
    }

    #[test]
    fn dangling_symlink_creates_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("real", &link).unwrap();
        replace(&link, b"new", Contents::Ciphertext, Policy::default()).unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(dir.path().join("real")).unwrap(), b"new");
    }

    /// A FIFO (`--output /dev/stdout` into a pipe, a device) is written to, never renamed over:
    /// as root, renaming over `/dev/null` would replace the device node with a regular file.
    #[test]
    fn a_fifo_is_written_to_not_replaced() {
        use std::io::Read;
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        rfs::mkfifoat(rfs::CWD, &fifo, Mode::from_raw_mode(0o600)).unwrap();
        let reader_path = fifo.clone();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            File::open(reader_path)
                .unwrap()
                .read_to_end(&mut got)
                .unwrap();
            got
        });
        replace(&fifo, b"through", Contents::Plaintext, Policy::default()).unwrap();
        assert_eq!(reader.join().unwrap(), b"through");
        let meta = std::fs::symlink_metadata(&fifo).unwrap();
        assert!(meta.file_type().is_fifo());
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn new_plaintext_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("new");
        replace(&target, b"secret", Contents::Plaintext, Policy::default()).unwrap();
        assert_eq!(mode(&target) & 0o077, 0);
        let meta = std::fs::metadata(&target).unwrap();
        assert_eq!(meta.uid(), rustix::process::geteuid().as_raw());
    }
}
