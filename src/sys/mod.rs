//! The operating-system edge: private scratch space for plaintext, signals, core dumps, atomic
//! file replacement. A leaf module: it knows no formats and no keys.

pub mod atomic;
pub mod process_guard;
pub mod scratch;
pub mod signals;

/// Whether process `pid` has ended: the one test the sweeps make before removing what a killed
/// run left behind (a live or unknowable pid keeps its files).
pub(crate) fn process_gone(pid: rustix::process::Pid) -> bool {
    rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH)
}
