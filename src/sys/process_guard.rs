//! Keeps the process's memory, which holds data keys and plaintext, out of core dumps.
//!
//! Two layers, because either alone can be undone by system settings: `PR_SET_DUMPABLE=0` stops
//! the kernel from dumping (and other users from ptrace-attaching), unless `fs.suid_dumpable=2`;
//! a zero `RLIMIT_CORE` stops it regardless of that sysctl. The limit is inherited by the
//! commands `exec-env`/`exec-file` and the editor start, which is wanted: they hold the same
//! secrets.

/// Best effort: a platform or sandbox that refuses either call leaves rsops working as before.
pub fn disable_core_dumps() {
    #[cfg(target_os = "linux")]
    {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
    // Only the soft limit: a child that really wants core dumps may raise it again.
    let hard = rustix::process::getrlimit(rustix::process::Resource::Core).maximum;
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: hard,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_core_dumps_after_the_guard() {
        disable_core_dumps();
        let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
        assert_eq!(limit.current, Some(0));
        #[cfg(target_os = "linux")]
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }
}
