//! The operating-system edge: private scratch space for plaintext, signals, core dumps, atomic
//! file replacement. A leaf module: it knows no formats and no keys.

pub mod atomic;
pub mod process_guard;
pub mod scratch;
pub mod signals;
