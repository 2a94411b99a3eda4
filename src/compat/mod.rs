//! Go-compatible spellings: what sops (Go) writes and accepts, byte for byte, where Rust's own
//! formatting differs. A MAC computed by sops hashes these exact bytes. A leaf: it uses nothing
//! else in the crate.
//!
//! - [`number`]: `strconv.FormatFloat` (`'f'`, `'g'`, JSON) and `ParseFloat`/`ParseBool`;
//! - [`rfc3339`]: `time.RFC3339` / `RFC3339Nano` formatting and parsing;
//! - [`semver`]: the `sops.version` check (`blang/semver`).

pub mod number;
pub mod rfc3339;
pub mod semver;
