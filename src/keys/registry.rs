//! The one list of key backends. Everything else (the `sops:` block, `.sops.yaml`, the key flags,
//! `rotate`, `updatekeys`, `groups`, [`super::EnvKeys`]) loops over [`BACKENDS`]; a backend's
//! names, fields and wire form live in its own module under `keys/`.
//!
//! Adding a backend: its module, a variant in [`KeyStanza`] and [`KeySpec`] (the compiler then
//! points at the two `match`es below), its place in the three lists, and a cargo feature.

use super::discovery::Env;
use super::{age, aws, azkv, gcpkms, hckms, hcvault, pgp};
use super::{KeyError, KeyUnwrapper, MasterKey};
use crate::config::Section;
use crate::stores::StoreError;
use crate::tree::Map;
use std::collections::BTreeMap;

/// How a user names a backend's keys on the command line; the help texts of the encrypt, add,
/// remove and `groups add` flags are all made from `noun` (and `format`), so they read alike.
#[derive(Debug)]
pub struct KeyFlag {
    /// `--kms`
    pub long: &'static str,
    /// `--add-kms`
    pub add: &'static str,
    /// `--rm-kms`
    pub rm: &'static str,
    pub short: Option<char>,
    /// `SOPS_KMS_ARN`
    pub env: Option<&'static str>,
    pub value_name: &'static str,
    /// "AWS KMS ARNs"
    pub noun: &'static str,
    /// Shown after the noun on the encrypt and `groups add` flags, e.g. " (ARN[+ROLE_ARN])".
    pub format: &'static str,
}

/// Options given beside the key flags that some backends use (AWS KMS only, today), as typed:
/// only a backend that uses one may reject it.
#[derive(Clone, Debug, Default)]
pub struct SpecOptions {
    /// `--encryption-context k1:v1,k2:v2`
    pub encryption_context: Option<String>,
    pub aws_profile: String,
}

/// A key named on the command line that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    pub message: String,
    pub hint: Option<String>,
    /// sops gives a bad `--encryption-context` its own exit code.
    pub bad_encryption_context: bool,
}

impl SpecError {
    pub fn new(message: String, hint: &str) -> SpecError {
        SpecError {
            message,
            hint: Some(hint.to_string()),
            bad_encryption_context: false,
        }
    }
}

/// One key backend, as the registry sees it. Object-safe: the lists below hold `&dyn Backend`.
pub trait Backend: Sync {
    /// sops's type id: the list's name in the `sops:` block and in `--decryption-order`.
    fn type_id(&self) -> &'static str;
    /// The backend's name in messages.
    fn kind(&self) -> &'static str;
    fn flag(&self) -> &'static KeyFlag;
    /// One entry of this backend's list in the `sops:` block.
    fn read_stanza(&self, entry: &Map) -> Result<KeyStanza, StoreError>;
    /// sops 3.11 marshals some lists after `lastmodified`/`mac` (Go struct field order).
    fn written_after_mac(&self) -> bool {
        false
    }
    /// sops 3.11 writes these lists in every key group even when empty (no `omitempty`).
    fn always_in_groups(&self) -> bool {
        false
    }
    /// Keys from the comma-separated values of a flag or env var, already split.
    fn specs_from_flag(
        &self,
        values: Vec<String>,
        options: &SpecOptions,
    ) -> Result<Vec<KeySpec>, SpecError>;
    /// Keys from a creation rule's top level (`kms: arn1,arn2`).
    fn specs_from_rule(&self, rule: &Section) -> Result<Vec<KeySpec>, String>;
    /// Keys from one entry of a creation rule's `key_groups`.
    fn specs_from_group(&self, group: &Section) -> Result<Vec<KeySpec>, String>;
    /// The key as sops prints it (`ToString`); matches [`StanzaFields::identity`].
    fn spec_identity(&self, spec: &KeySpec) -> String;
    fn master_keys(&self, spec: &KeySpec, env: &Env) -> Result<Vec<Box<dyn MasterKey>>, KeyError>;
    /// The decrypt side configured from the process environment; `None` when this build has no
    /// client for the backend.
    fn unwrapper(&self) -> Option<Box<dyn KeyUnwrapper>>;
}

/// What every backend's stanza type answers.
pub trait StanzaFields {
    fn backend(&self) -> &'static dyn Backend;
    fn identity(&self) -> String;
    fn enc(&self) -> &str;
    /// The entry in sops's field order.
    fn to_wire(&self) -> Map;
    /// The spec that wraps for the same key again (rotate, groups).
    fn spec(&self) -> KeySpec;
}

/// Every backend, in the order users meet them: flags and `--help`, `.sops.yaml` rules.
pub static BACKENDS: [&dyn Backend; 7] = [
    &age::BACKEND,
    &pgp::BACKEND,
    &aws::BACKEND,
    &gcpkms::BACKEND,
    &azkv::BACKEND,
    &hcvault::BACKEND,
    &hckms::BACKEND,
];

/// sops builds a key group in this type order, whatever order the file lists them in.
pub static READ_ORDER: [&dyn Backend; 7] = [
    &aws::BACKEND,
    &gcpkms::BACKEND,
    &hckms::BACKEND,
    &azkv::BACKEND,
    &hcvault::BACKEND,
    &pgp::BACKEND,
    &age::BACKEND,
];

/// sops 3.11's field order inside a key group; the top level is the same with the
/// [`Backend::written_after_mac`] lists moved after `mac`.
pub static WRITE_ORDER: [&dyn Backend; 7] = [
    &pgp::BACKEND,
    &aws::BACKEND,
    &gcpkms::BACKEND,
    &azkv::BACKEND,
    &hcvault::BACKEND,
    &age::BACKEND,
    &hckms::BACKEND,
];

/// One master key's entry in the file: who it is for and the wrapped data key (or share).
#[derive(Clone, Debug, PartialEq)]
pub enum KeyStanza {
    Pgp(pgp::PgpStanza),
    Age(age::AgeStanza),
    Kms(aws::KmsStanza),
    GcpKms(gcpkms::GcpKmsStanza),
    AzureKv(azkv::AzureKvStanza),
    HcVault(hcvault::HcVaultStanza),
    Hckms(hckms::HckmsStanza),
}

impl KeyStanza {
    pub fn fields(&self) -> &dyn StanzaFields {
        match self {
            KeyStanza::Pgp(k) => k,
            KeyStanza::Age(k) => k,
            KeyStanza::Kms(k) => k,
            KeyStanza::GcpKms(k) => k,
            KeyStanza::AzureKv(k) => k,
            KeyStanza::HcVault(k) => k,
            KeyStanza::Hckms(k) => k,
        }
    }

    pub fn backend(&self) -> &'static dyn Backend {
        self.fields().backend()
    }

    /// sops's type id, as used by `--decryption-order`.
    pub fn type_id(&self) -> &'static str {
        self.backend().type_id()
    }

    /// The key's identity as sops prints it (`ToString`), used in reports and for `--rm-*`.
    pub fn identity(&self) -> String {
        self.fields().identity()
    }

    pub fn enc(&self) -> &str {
        self.fields().enc()
    }
}

/// A master key as named in the config or on the command line, before its backend is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySpec {
    Age(String),
    Pgp(String),
    Kms {
        arn: String,
        role: String,
        context: BTreeMap<String, String>,
        aws_profile: String,
    },
    GcpKms(String),
    AzureKv {
        vault_url: String,
        key: String,
        version: String,
    },
    HcVault(String),
    Hckms(String),
}

impl KeySpec {
    pub fn backend(&self) -> &'static dyn Backend {
        match self {
            KeySpec::Age(_) => &age::BACKEND,
            KeySpec::Pgp(_) => &pgp::BACKEND,
            KeySpec::Kms { .. } => &aws::BACKEND,
            KeySpec::GcpKms(_) => &gcpkms::BACKEND,
            KeySpec::AzureKv { .. } => &azkv::BACKEND,
            KeySpec::HcVault(_) => &hcvault::BACKEND,
            KeySpec::Hckms(_) => &hckms::BACKEND,
        }
    }

    /// The backend's name as users read it in messages.
    pub fn kind(&self) -> &'static str {
        self.backend().kind()
    }

    /// The key as sops prints it (`ToString`), matching [`KeyStanza::identity`].
    pub fn identity(&self) -> String {
        self.backend().spec_identity(self)
    }

    /// The spec of a key already in a file, to re-wrap a data key for it (rotate, groups).
    pub fn from_stanza(stanza: &KeyStanza) -> KeySpec {
        stanza.fields().spec()
    }
}

/// The error of a backend asked for a spec of another backend: a registry bug, not user input.
pub(crate) fn foreign_spec(backend: &dyn Backend, spec: &KeySpec) -> KeyError {
    KeyError::Failed {
        backend: backend.type_id(),
        key: spec.identity(),
        message: format!("not a {} key", backend.kind()),
    }
}

/// What a backend compiled out of this build answers when asked to encrypt.
#[allow(dead_code)]
pub(crate) fn not_built(backend: &dyn Backend, feature: &str) -> KeyError {
    KeyError::Failed {
        backend: backend.kind(),
        key: String::new(),
        message: format!(
            "this rsops build cannot encrypt with {} keys; rebuild with the cargo feature `{feature}`",
            backend.kind()
        ),
    }
}

/// Splits a comma-separated key list as sops does: trimmed, empty items dropped.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&dyn Backend]) -> Vec<&'static str> {
        let mut ids: Vec<_> = list.iter().map(|b| b.type_id()).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn the_orders_list_every_backend_once() {
        let all = ids(&BACKENDS);
        let mut unique = all.clone();
        unique.dedup();
        assert_eq!(all, unique);
        assert_eq!(ids(&READ_ORDER), all);
        assert_eq!(ids(&WRITE_ORDER), all);
    }

    #[test]
    fn flags_are_distinct() {
        let mut names: Vec<&str> = BACKENDS
            .iter()
            .flat_map(|b| [b.flag().long, b.flag().add, b.flag().rm])
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
