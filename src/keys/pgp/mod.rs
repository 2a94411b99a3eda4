//! Placeholder: PGP being written.
