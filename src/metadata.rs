//! The `sops` metadata of an encrypted file, as a domain model (the wire form is in `stores`).

use crate::tree::Selector;
use std::collections::BTreeMap;

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

/// One master key's entry in the file: who it is for and the wrapped data key (or share).
#[derive(Clone, Debug, PartialEq)]
pub enum KeyStanza {
    Pgp(PgpStanza),
    Age(AgeStanza),
    Kms(KmsStanza),
    GcpKms(GcpKmsStanza),
    AzureKv(AzureKvStanza),
    HcVault(HcVaultStanza),
    Hckms(HckmsStanza),
}

#[derive(Clone, Debug, PartialEq)]
pub struct PgpStanza {
    pub fp: String,
    pub created_at: String,
    pub enc: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AgeStanza {
    pub recipient: String,
    pub enc: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct KmsStanza {
    pub arn: String,
    pub role: String,
    pub context: BTreeMap<String, String>,
    pub created_at: String,
    pub enc: String,
    pub aws_profile: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GcpKmsStanza {
    pub resource_id: String,
    pub created_at: String,
    pub enc: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AzureKvStanza {
    pub vault_url: String,
    pub name: String,
    pub version: String,
    pub created_at: String,
    pub enc: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HcVaultStanza {
    pub vault_address: String,
    pub engine_path: String,
    pub key_name: String,
    pub created_at: String,
    pub enc: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HckmsStanza {
    pub key_id: String,
    pub created_at: String,
    pub enc: String,
}

impl KeyStanza {
    /// sops's type id, as used by `--decryption-order`.
    pub fn type_id(&self) -> &'static str {
        match self {
            KeyStanza::Pgp(_) => "pgp",
            KeyStanza::Age(_) => "age",
            KeyStanza::Kms(_) => "kms",
            KeyStanza::GcpKms(_) => "gcp_kms",
            KeyStanza::AzureKv(_) => "azure_kv",
            KeyStanza::HcVault(_) => "hc_vault",
            KeyStanza::Hckms(_) => "hckms",
        }
    }

    /// The key's identity as sops prints it (`ToString`), used in reports and for `--rm-*`.
    pub fn identity(&self) -> String {
        match self {
            KeyStanza::Pgp(k) => k.fp.clone(),
            KeyStanza::Age(k) => k.recipient.clone(),
            KeyStanza::Kms(k) => {
                let mut s = k.arn.clone();
                if !k.role.is_empty() {
                    s.push('+');
                    s.push_str(&k.role);
                }
                // sops's ToString: `ARN[+ROLE]|CONTEXT|PROFILE`, with `|CONTEXT` alone when there
                // is no profile and nothing after the ARN when there is neither.
                let pairs: Vec<String> =
                    k.context.iter().map(|(a, b)| format!("{a}:{b}")).collect();
                if !k.aws_profile.is_empty() {
                    s.push('|');
                    s.push_str(&pairs.join(","));
                    s.push('|');
                    s.push_str(&k.aws_profile);
                } else if !pairs.is_empty() {
                    s.push('|');
                    s.push_str(&pairs.join(","));
                }
                s
            }
            KeyStanza::GcpKms(k) => k.resource_id.clone(),
            KeyStanza::AzureKv(k) => format!("{}/keys/{}/{}", k.vault_url, k.name, k.version),
            KeyStanza::HcVault(k) => format!(
                "{}/v1/{}/keys/{}",
                k.vault_address, k.engine_path, k.key_name
            ),
            KeyStanza::Hckms(k) => k.key_id.clone(),
        }
    }

    pub fn enc(&self) -> &str {
        match self {
            KeyStanza::Pgp(k) => &k.enc,
            KeyStanza::Age(k) => &k.enc,
            KeyStanza::Kms(k) => &k.enc,
            KeyStanza::GcpKms(k) => &k.enc,
            KeyStanza::AzureKv(k) => &k.enc,
            KeyStanza::HcVault(k) => &k.enc,
            KeyStanza::Hckms(k) => &k.enc,
        }
    }
}
