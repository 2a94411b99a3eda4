//! Several files in one run (`encrypt`/`decrypt` with `--output-dir DIR` or `-i`): where each
//! result goes, and a bounded pool of threads that works through the files.
//!
//! One process and one key service for all the files is what makes a deploy of hundreds of
//! files cheap: the service unwraps each distinct data key once, and the threads keep several
//! KMS round trips in flight. Every output is written atomically and only when its own file
//! succeeded, so a bad file leaves each other output either complete or untouched.

use crate::cli::exit::{self, CliError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// How the results of a many-file run are written.
pub enum Destination {
    /// Each file replaced by its result (`-i`).
    InPlace,
    /// Each result in this directory, under its file's name.
    Dir(PathBuf),
}

/// What the flags of a run ask for, checked before any file is read.
pub struct Request<'a> {
    pub files: &'a [PathBuf],
    pub in_place: bool,
    pub output: Option<&'a Path>,
    pub output_dir: Option<&'a Path>,
    pub filename_override: Option<&'a Path>,
}

impl Request<'_> {
    /// `None`: one file (or stdin) without `--output-dir`, which runs exactly as sops would.
    pub fn destination(&self) -> Result<Option<Destination>, CliError> {
        if self.files.len() <= 1 && self.output_dir.is_none() {
            return Ok(None);
        }
        let conflict = |message: &str, hint: &str| {
            Err(CliError::new(exit::ERROR_CONFLICTING_PARAMETERS, message).hint(hint))
        };
        if self.files.is_empty() {
            return conflict(
                "cannot use --output-dir when reading from stdin",
                "name the files to work on, or use --output FILE for stdin",
            );
        }
        if self.output.is_some() {
            return conflict(
                "cannot use --output with several files or --output-dir",
                "use --output-dir DIR: each result goes there under its file's name",
            );
        }
        if self.filename_override.is_some() {
            return conflict(
                "cannot use --filename-override with several files",
                "it names one file; run once per file, or rename the files",
            );
        }
        match (self.in_place, self.output_dir) {
            (true, Some(_)) => conflict(
                "cannot operate on both --output-dir and --in-place",
                "choose one",
            ),
            (true, None) => Ok(Some(Destination::InPlace)),
            (false, Some(dir)) => Ok(Some(Destination::Dir(dir.to_path_buf()))),
            (false, None) => conflict(
                "several files need --output-dir DIR or --in-place",
                "stdout takes one file's result: pass --output-dir DIR, or -i to rewrite each file",
            ),
        }
    }
}

impl Destination {
    /// Where each file's result goes, in the order of `files`. Two files with the same name
    /// cannot share a directory: that is refused before anything is written.
    pub fn outputs(&self, files: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
        let Destination::Dir(dir) = self else {
            return Ok(files.to_vec());
        };
        prepare_dir(dir)?;
        let mut outputs: Vec<PathBuf> = Vec::with_capacity(files.len());
        for file in files {
            let name = file.file_name().ok_or_else(|| {
                CliError::new(
                    exit::ERROR_GENERIC,
                    format!("{} names no file", file.display()),
                )
            })?;
            let output = dir.join(name);
            if outputs.contains(&output) {
                return Err(CliError::new(
                    exit::ERROR_CONFLICTING_PARAMETERS,
                    format!("two files would be written to {}", output.display()),
                )
                .hint("files with the same name need separate runs (one --output-dir each)"));
            }
            outputs.push(output);
        }
        Ok(outputs)
    }
}

/// Creates the output directory when missing, private (results may be plaintext).
fn prepare_dir(dir: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            CliError::new(
                exit::COULD_NOT_WRITE_OUTPUT_FILE,
                format!(
                    "could not create the output directory {}: {e}",
                    dir.display()
                ),
            )
        })
}

/// Turns every file into its output with `transform` on the bounded pool and writes each result
/// atomically to its place (`-i`: over the file; `--output-dir`: under the directory) as soon as
/// it is ready.
pub fn transform_each<F, B>(
    files: &[PathBuf],
    destination: &Destination,
    contents: crate::cli::io::Contents,
    limit: usize,
    transform: F,
) -> Result<(), CliError>
where
    F: Fn(&Path) -> Result<B, CliError> + Sync,
    B: AsRef<[u8]>,
{
    let outputs = destination.outputs(files)?;
    for_each(files, limit, |i| {
        let file = crate::cli::io::existing_file(&files[i])?;
        let bytes = transform(&file)?;
        let to = outputs[i].as_path();
        let (in_place, output) = match destination {
            Destination::InPlace => (Some(to), None),
            Destination::Dir(_) => (None, Some(to)),
        };
        crate::cli::io::write_output(bytes.as_ref(), contents, in_place, output)
    })
}

/// Runs `work(i)` for every index below `count` on at most `limit` threads, then reports each
/// failure on stderr, prefixed with its file, in the order of the files. The run fails with the
/// exit code of the first file that failed.
pub fn for_each<F>(files: &[PathBuf], limit: usize, work: F) -> Result<(), CliError>
where
    F: Fn(usize) -> Result<(), CliError> + Sync,
{
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<(usize, CliError)>> = Mutex::new(Vec::new());
    let worker = || loop {
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= files.len() {
            return;
        }
        if let Err(e) = work(i) {
            failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((i, e));
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..limit.clamp(1, files.len().max(1)) {
            scope.spawn(worker);
        }
    });
    let mut failures = failures
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    failures.sort_by_key(|(i, _)| *i);
    let first_code = failures.first().map(|(_, e)| e.code());
    for (i, error) in failures {
        error.prefixed(&files[i].display().to_string()).report();
    }
    match first_code {
        None => Ok(()),
        Some(code) => Err(CliError::Quiet(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(files: &'a [PathBuf], dir: Option<&'a Path>, in_place: bool) -> Request<'a> {
        Request {
            files,
            in_place,
            output: None,
            output_dir: dir,
            filename_override: None,
        }
    }

    #[test]
    fn one_file_without_a_directory_is_the_sops_path() {
        let one = [PathBuf::from("a.yaml")];
        assert!(request(&one, None, false).destination().unwrap().is_none());
        assert!(request(&[], None, false).destination().unwrap().is_none());
        assert!(request(&one, None, true).destination().unwrap().is_none());
    }

    #[test]
    fn several_files_need_somewhere_to_go() {
        let two = [PathBuf::from("a.yaml"), PathBuf::from("b.yaml")];
        let err = request(&two, None, false).destination().err().unwrap();
        assert_eq!(err.code(), exit::ERROR_CONFLICTING_PARAMETERS);
        let both = request(&two, Some(Path::new("out")), true).destination();
        assert_eq!(
            both.err().unwrap().code(),
            exit::ERROR_CONFLICTING_PARAMETERS
        );
        assert!(matches!(
            request(&two, None, true).destination(),
            Ok(Some(Destination::InPlace))
        ));
        let stdin = request(&[], Some(Path::new("out")), false).destination();
        assert_eq!(
            stdin.err().unwrap().code(),
            exit::ERROR_CONFLICTING_PARAMETERS
        );
    }

    #[test]
    fn same_names_cannot_share_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let out = Destination::Dir(dir.path().join("new"));
        let files = [PathBuf::from("x/s.yaml"), PathBuf::from("y/t.yaml")];
        let outputs = out.outputs(&files).unwrap();
        assert_eq!(outputs[1], dir.path().join("new/t.yaml"));
        let clash = [PathBuf::from("x/s.yaml"), PathBuf::from("y/s.yaml")];
        let err = out.outputs(&clash).err().unwrap();
        assert_eq!(err.code(), exit::ERROR_CONFLICTING_PARAMETERS);
    }

    #[test]
    fn the_first_failing_file_decides_the_exit_code() {
        let files: Vec<PathBuf> = (0..9).map(|i| PathBuf::from(format!("f{i}"))).collect();
        let done = AtomicUsize::new(0);
        let result = for_each(&files, 3, |i| {
            done.fetch_add(1, Ordering::SeqCst);
            match i {
                4 => Err(CliError::new(exit::MAC_MISMATCH, "mac")),
                7 => Err(CliError::new(exit::COULD_NOT_RETRIEVE_KEY, "key")),
                _ => Ok(()),
            }
        });
        assert_eq!(done.load(Ordering::SeqCst), 9, "every file is worked on");
        assert_eq!(result.err().unwrap().code(), exit::MAC_MISMATCH);
    }
}
