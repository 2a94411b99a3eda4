//! One store per file format. A store turns bytes into a [`Document`] and back; it knows the
//! format's syntax and where the format keeps the `sops` metadata, and nothing about keys.

pub mod binary;
pub mod dotenv;
pub mod flatten;
pub mod ini;
pub mod json;
pub mod metadata_wire;
pub mod toml;
pub mod yaml;

use crate::metadata::Metadata;
use crate::tree::{Document, Node};
use std::path::Path;

/// The deepest nesting of mappings and lists a loader accepts. The tree code recurses, so an
/// unbounded depth would overflow the stack; YAML's parser stops at 255 levels by itself, JSON and
/// YAML aliases are cut here. sops (Go, growable stacks) allows 10 000 JSON levels; no real
/// secrets file comes near either number.
pub const MAX_NESTING: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
    Ini,
    /// rsops only: sops has no TOML store.
    Toml,
    Binary,
}

impl Format {
    /// `--input-type`/`--output-type` names.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" => Format::Dotenv,
            "ini" => Format::Ini,
            "toml" => Format::Toml,
            "binary" => Format::Binary,
            _ => return None,
        })
    }

    /// sops's rule: by extension, and anything unknown is binary.
    pub fn from_path(path: &Path) -> Format {
        let name = path.to_string_lossy();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            Format::Yaml
        } else if name.ends_with(".json") {
            Format::Json
        } else if name.ends_with(".env") {
            Format::Dotenv
        } else if name.ends_with(".ini") {
            Format::Ini
        } else if name.ends_with(".toml") {
            Format::Toml
        } else {
            Format::Binary
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Toml => "toml",
            Format::Binary => "binary",
        }
    }
}

/// Per-format output settings (`.sops.yaml` `stores:` and `--indent`).
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// YAML indentation, sops default 4.
    pub yaml_indent: usize,
    /// JSON indentation; `None` means a tab (sops's default, `-1`).
    pub json_indent: Option<usize>,
    /// JSON indentation for the binary store's encrypted wrapper.
    pub json_binary_indent: Option<usize>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            yaml_indent: 4,
            json_indent: None,
            json_binary_indent: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input is not valid in its format. Never quote the offending text: it may be a secret.
    #[error("invalid {format} input{}: {message}", location(*.line, *.column))]
    Syntax {
        format: &'static str,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// Valid syntax that sops cannot represent (non-string keys, integers beyond int64 …).
    #[error("{format} input cannot be handled: {message}")]
    Unsupported {
        format: &'static str,
        message: String,
    },
    /// The document cannot be written in the output format (nested values in dotenv …).
    #[error("cannot write {format} output: {message}")]
    Emit {
        format: &'static str,
        message: String,
    },
    /// The `sops` metadata block is present but malformed.
    #[error("the sops metadata is invalid: {0}")]
    Metadata(String),
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

/// What every format implements. The `sops` metadata crosses this boundary as the domain
/// [`Metadata`]: where it sits in the format's syntax, and how its wire shape is spelled there
/// (flattened keys, JSON's `null` for an empty key list), stays inside the store.
pub trait Store {
    /// Parses a plaintext file.
    fn load_plain(&self, bytes: &[u8]) -> Result<Document, StoreError>;
    /// Parses an encrypted file and takes its metadata out of the document (`None` if absent;
    /// present but malformed is [`StoreError::Metadata`]).
    fn load_encrypted(&self, bytes: &[u8]) -> Result<(Document, Option<Metadata>), StoreError>;
    /// Writes a plaintext document.
    fn emit_plain(&self, doc: &Document) -> Result<Vec<u8>, StoreError>;
    /// Writes an encrypted document with its metadata.
    fn emit_encrypted(&self, doc: Document, metadata: &Metadata) -> Result<Vec<u8>, StoreError>;
    /// Writes one value for `decrypt --extract` (strings are printed raw by the caller).
    fn emit_value(&self, value: &Node) -> Result<Vec<u8>, StoreError>;
    /// True when a plaintext document already carries sops metadata in this format's sense
    /// (a top-level `sops` key; for dotenv any `sops_` key): encrypting it again is refused.
    fn has_metadata(&self, doc: &Document) -> bool {
        doc.branches
            .first()
            .is_some_and(|branch| branch.contains_key("sops"))
    }
}

/// The domain metadata of a `sops` block a store found (if it found one).
fn read_metadata(node: Option<Node>) -> Result<Option<Metadata>, StoreError> {
    node.as_ref().map(metadata_wire::from_node).transpose()
}

/// Metadata that every loader accepts, for the stores' own tests: one age key whose `enc`
/// spans lines (as an armored age stanza does).
#[cfg(test)]
pub(crate) fn sample_metadata(groups: usize) -> Metadata {
    use crate::metadata::{AgeStanza, KeyGroup, KeyStanza};
    let group = |i: usize| KeyGroup {
        keys: vec![KeyStanza::Age(AgeStanza {
            recipient: format!("age1recipient{i}"),
            enc: "line1\nline2".to_string(),
        })],
    };
    Metadata {
        key_groups: (0..groups).map(group).collect(),
        shamir_threshold: if groups > 1 { groups } else { 0 },
        last_modified: "2024-01-02T03:04:05Z".to_string(),
        mac: Some("m".to_string()),
        version: "3.11.0".to_string(),
        ..Metadata::default()
    }
}

/// The store for a format.
/// A scalar read as text, as sops's weakly typed readers see it (the `sops:` block,
/// `.sops.yaml`, Kubernetes string data): strings and times as written, integers and booleans
/// as Go prints them, floats as `strconv.FormatFloat(f, 'f', -1, 64)`. `None` for null, binary
/// data, lists and mappings.
pub fn scalar_text(node: &Node) -> Option<String> {
    match node {
        Node::Scalar(scalar) => scalar_to_text(scalar),
        _ => None,
    }
}

/// [`scalar_text`] of one scalar.
pub fn scalar_to_text(scalar: &crate::tree::Scalar) -> Option<String> {
    use crate::tree::Scalar;
    match scalar {
        Scalar::Str(s) | Scalar::Time(s) => Some(s.clone()),
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::Float(f) => Some(crate::compat::number::format_float_f(*f)),
        Scalar::Null | Scalar::Bytes(_) => None,
    }
}

pub fn store_for(format: Format, options: StoreOptions) -> Box<dyn Store> {
    match format {
        Format::Yaml => Box::new(yaml::YamlStore::new(options)),
        Format::Json => Box::new(json::JsonStore::new(options)),
        Format::Dotenv => Box::new(dotenv::DotenvStore),
        Format::Ini => Box::new(ini::IniStore),
        Format::Toml => Box::new(toml::TomlStore),
        Format::Binary => Box::new(binary::BinaryStore::new(options)),
    }
}
