//! What rsops must do when it is told to stop, in one place: remove the plaintext it put on disk,
//! wake a command blocked on one of its FIFOs, or pass the signal to a child that owns the
//! cleanup (helm). The library keeps only this registry and the decision ([`on_signal`]); the
//! program installs the handler thread and exits with the code it is given, so library users
//! keep control of their own process.

use rustix::process::Pid;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Every signal whose default action ends the process and that can be caught. SIGKILL cannot be;
/// stale directories are swept by the next run instead (see `scratch::sweep_stale`).
pub const TERMINATING: [i32; 8] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGQUIT,
    signal_hook::consts::SIGUSR1,
    signal_hook::consts::SIGUSR2,
    signal_hook::consts::SIGPIPE,
    signal_hook::consts::SIGALRM,
];

#[derive(Default)]
struct Registry {
    dirs: Vec<PathBuf>,
    fifos: Vec<PathBuf>,
    hold: bool,
    child: Option<Pid>,
    received: Option<i32>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    dirs: Vec::new(),
    fifos: Vec::new(),
    hold: false,
    child: None,
    received: None,
});

/// While an interactive child (an editor) runs in the foreground it owns Ctrl+C: vim uses it to
/// cancel a command, so SIGINT must not tear the editor's file away.
static FOREGROUND_CHILD: AtomicBool = AtomicBool::new(false);

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the handler must do with one signal.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing: the signal was not meant to stop rsops.
    Ignore,
    /// Recorded (and passed to the child, if one runs); whoever holds [`Hold`] finishes up.
    Held,
    /// The plaintext is gone; exit with this code (128 + signal, as a shell reports it).
    Exit(i32),
}

/// Decides what `signal`, sent by process `sender` (when known), does, and does the cleanup
/// that must precede an exit.
pub fn on_signal(signal: i32, sender: Option<i32>) -> Action {
    // A write to a closed pipe raises SIGPIPE "from" rsops itself; the write already reports
    // EPIPE, which the code handles. Only a SIGPIPE sent by someone else is a request to stop.
    if signal == signal_hook::consts::SIGPIPE
        && sender == Some(rustix::process::getpid().as_raw_nonzero().get())
    {
        return Action::Ignore;
    }
    if signal == signal_hook::consts::SIGINT && FOREGROUND_CHILD.load(Ordering::SeqCst) {
        return Action::Ignore;
    }
    let mut reg = registry();
    reg.received.get_or_insert(signal);
    if reg.hold {
        if let Some(child) = reg.child {
            send(child, signal);
        }
        return Action::Held;
    }
    clean(&mut reg);
    Action::Exit(128 + signal)
}

/// Runs `f` (which runs an interactive child) with SIGINT left to that child.
pub fn with_foreground_child<T>(f: impl FnOnce() -> T) -> T {
    FOREGROUND_CHILD.store(true, Ordering::SeqCst);
    let result = f();
    FOREGROUND_CHILD.store(false, Ordering::SeqCst);
    result
}

/// Removes `dir` (recursively) when rsops is stopped by a signal, until [`forget_dir`].
pub fn remember_dir(dir: &Path) {
    registry().dirs.push(dir.to_path_buf());
}

pub fn forget_dir(dir: &Path) {
    let mut reg = registry();
    reg.dirs.retain(|d| d != dir);
    reg.fifos.retain(|f| !f.starts_with(dir));
}

/// A FIFO a command may be blocked on: on a signal it gets an end of file before it is removed,
/// since removing a FIFO does not wake a reader waiting in `open`.
pub fn remember_fifo(fifo: &Path) {
    registry().fifos.push(fifo.to_path_buf());
}

/// Wakes every reader blocked in `open` on `fifo`: a writer that opens and closes at once gives
/// them an end of file. Does nothing when no reader waits (or the path is not a FIFO).
pub fn wake_fifo_readers(fifo: &Path) {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // Opened and closed at once: whatever the path turned out to be, nothing is written to it.
    let _ = rustix::fs::open(fifo, flags, Mode::empty());
}

fn clean(reg: &mut Registry) {
    for fifo in reg.fifos.drain(..) {
        wake_fifo_readers(&fifo);
    }
    for dir in reg.dirs.drain(..) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// While alive, signals do not end rsops: they are recorded ([`Hold::received`]) and passed to
/// the child given to [`Hold::forward_to`], which then owns the decision to stop; the holder
/// cleans up when the child has exited.
pub struct Hold(());

pub fn hold() -> Hold {
    registry().hold = true;
    Hold(())
}

impl Hold {
    /// The first signal received, while held or before.
    pub fn received(&self) -> Option<i32> {
        registry().received
    }

    /// From now on signals go to `child`; one that came in before is delivered now.
    pub fn forward_to(&self, child: Pid) {
        let mut reg = registry();
        reg.child = Some(child);
        if let Some(signal) = reg.received {
            send(child, signal);
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut reg = registry();
        reg.hold = false;
        reg.child = None;
    }
}

fn send(pid: Pid, signal: i32) {
    if let Some(signal) = rustix::process::Signal::from_named_raw(signal) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signal_hook::consts::{SIGINT, SIGPIPE, SIGUSR1};

    // One test, because the registry is process-wide state that parallel tests would share.
    #[test]
    fn signals_clean_up_hold_and_ignore() {
        let own = rustix::process::getpid().as_raw_nonzero().get();
        assert_eq!(on_signal(SIGPIPE, Some(own)), Action::Ignore);
        assert_eq!(
            with_foreground_child(|| on_signal(SIGINT, None)),
            Action::Ignore
        );

        let dir = tempfile::tempdir().unwrap().keep();
        std::fs::write(dir.join("plain"), "x").unwrap();
        remember_dir(&dir);
        {
            let hold = hold();
            assert_eq!(on_signal(SIGUSR1, Some(1)), Action::Held);
            assert_eq!(hold.received(), Some(SIGUSR1));
            assert!(dir.exists());
        }
        assert_eq!(on_signal(SIGPIPE, Some(1)), Action::Exit(128 + SIGPIPE));
        assert!(!dir.exists());
        registry().received = None;
    }

    #[test]
    fn a_blocked_fifo_reader_gets_end_of_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        while !reader.is_finished() {
            wake_fifo_readers(&fifo);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(reader.join().unwrap().is_empty());
    }
}
