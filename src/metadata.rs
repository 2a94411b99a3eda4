//! The `sops` metadata of an encrypted file, as a domain model (the wire form is in `stores`).

use crate::tree::Selector;

/// The version rsops writes into files. sops refuses files whose version is not semver, and
/// runs a KMS-context repair on versions older than 3.3.0, so this names the sops release whose
/// on-disk format rsops writes.
pub const WRITTEN_VERSION: &str = "3.11.0";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    pub key_groups: Vec<KeyGroup>,
    /// 0 when not set; only meaningful with two or more groups.
    pub shamir_threshold: usize,
    pub last_modified: String,
    /// The encrypted MAC (`ENC[…]`); `None` when the file has none.
    pub mac: Option<String>,
    pub rule: PartialRule,
    pub mac_only_encrypted: bool,
    pub version: String,
}

/// The partial-encryption option recorded in a file, spelled as in sops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PartialRule {
    /// No option recorded: sops then applies the default `_unencrypted` suffix.
    #[default]
    None,
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(String),
    EncryptedRegex(String),
    UnencryptedCommentRegex(String),
    EncryptedCommentRegex(String),
}

#[derive(Debug, thiserror::Error)]
#[error("the {field} `{pattern}` is not a valid regular expression: {reason}")]
pub struct BadRegex {
    pub field: &'static str,
    pub pattern: String,
    pub reason: String,
}

impl PartialRule {
    pub fn field_name(&self) -> Option<&'static str> {
        Some(match self {
            PartialRule::None => return None,
            PartialRule::UnencryptedSuffix(_) => "unencrypted_suffix",
            PartialRule::EncryptedSuffix(_) => "encrypted_suffix",
            PartialRule::UnencryptedRegex(_) => "unencrypted_regex",
            PartialRule::EncryptedRegex(_) => "encrypted_regex",
            PartialRule::UnencryptedCommentRegex(_) => "unencrypted_comment_regex",
            PartialRule::EncryptedCommentRegex(_) => "encrypted_comment_regex",
        })
    }

    pub fn value(&self) -> Option<&str> {
        match self {
            PartialRule::None => None,
            PartialRule::UnencryptedSuffix(v)
            | PartialRule::EncryptedSuffix(v)
            | PartialRule::UnencryptedRegex(v)
            | PartialRule::EncryptedRegex(v)
            | PartialRule::UnencryptedCommentRegex(v)
            | PartialRule::EncryptedCommentRegex(v) => Some(v),
        }
    }

    pub fn from_field(field: &str, value: String) -> Option<PartialRule> {
        Some(match field {
            "unencrypted_suffix" => PartialRule::UnencryptedSuffix(value),
            "encrypted_suffix" => PartialRule::EncryptedSuffix(value),
            "unencrypted_regex" => PartialRule::UnencryptedRegex(value),
            "encrypted_regex" => PartialRule::EncryptedRegex(value),
            "unencrypted_comment_regex" => PartialRule::UnencryptedCommentRegex(value),
            "encrypted_comment_regex" => PartialRule::EncryptedCommentRegex(value),
            _ => return None,
        })
    }

    pub const FIELDS: [&'static str; 6] = [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
        "unencrypted_comment_regex",
        "encrypted_comment_regex",
    ];

    /// The walker's selector for this rule (Go RE2 and Rust regex agree on the syntax sops users write).
    pub fn selector(&self) -> Result<Selector, BadRegex> {
        let compile = |field: &'static str, pattern: &str| {
            regex::Regex::new(pattern).map_err(|e| BadRegex {
                field,
                pattern: pattern.to_string(),
                reason: e.to_string(),
            })
        };
        Ok(match self {
            PartialRule::None => Selector::default(),
            PartialRule::UnencryptedSuffix(s) => Selector::UnencryptedSuffix(s.clone()),
            PartialRule::EncryptedSuffix(s) => Selector::EncryptedSuffix(s.clone()),
            PartialRule::UnencryptedRegex(r) => {
                Selector::UnencryptedRegex(compile("unencrypted_regex", r)?)
            }
            PartialRule::EncryptedRegex(r) => {
                Selector::EncryptedRegex(compile("encrypted_regex", r)?)
            }
            PartialRule::UnencryptedCommentRegex(r) => {
                Selector::UnencryptedCommentRegex(compile("unencrypted_comment_regex", r)?)
            }
            PartialRule::EncryptedCommentRegex(r) => {
                Selector::EncryptedCommentRegex(compile("encrypted_comment_regex", r)?)
            }
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyGroup {
    pub keys: Vec<KeyStanza>,
}

pub use crate::keys::age::AgeStanza;
pub use crate::keys::aws::KmsStanza;
pub use crate::keys::azkv::AzureKvStanza;
pub use crate::keys::gcpkms::GcpKmsStanza;
pub use crate::keys::hckms::HckmsStanza;
pub use crate::keys::hcvault::HcVaultStanza;
pub use crate::keys::pgp::PgpStanza;
pub use crate::keys::registry::KeyStanza;
