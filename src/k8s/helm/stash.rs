//! Where the plaintexts live while helm runs: a pipe per file that helm drains (the default), or
//! 0600 files in a private 0700 directory (`RSOPS_HELM_VALUES=tempdir`).

use super::super::Error;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Prefix of the private directories of the temp-dir fallback (also used to sweep leftovers).
pub const TEMP_PREFIX: &str = "rsops-helm-";

/// Where the plaintexts live while helm runs.
pub trait Stash {
    /// Stores one plaintext and returns the path helm should read it from.
    fn add(&mut self, label: &str, plaintext: &[u8]) -> Result<String, Error>;

    /// helm has started with its own copies of whatever it inherits: rsops lets go of its own.
    fn handed_over(&mut self) {}
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

#[cfg(test)]
mod tests {
    use super::*;
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
