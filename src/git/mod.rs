//! rsops in git: the three-way merge of decrypted trees behind the merge driver, and the
//! masked view `git diff` shows when no key is at hand. Formats and keys stay with the caller.

pub mod masked;
pub mod merge;
