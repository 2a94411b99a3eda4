//! `v1/Secret` manifests from decrypted files: the keys and values, the checks Kubernetes would
//! make (key names, required keys per type, size), and the manifest as a document tree.

use super::{scalar_bytes, Error};
use crate::stores::{store_for, Format, StoreOptions};
use crate::tree::path::{lookup, Found, PathComponent};
use crate::tree::{Document, ListItem, Map, Node, Scalar};
use base64::Engine;
use std::path::Path;
use zeroize::Zeroizing;

/// Kubernetes caps a Secret's data at 1 MiB.
const MAX_SECRET_BYTES: usize = 1024 * 1024;

/// One key of a Secret. `text` asks for `stringData` (honoured only when the bytes are UTF-8).
pub struct Entry {
    pub key: String,
    pub value: Zeroizing<Vec<u8>>,
    pub text: bool,
}

/// What a Secret looks like apart from its data.
#[derive(Clone, Debug, Default)]
pub struct SecretMeta {
    pub name: String,
    pub namespace: Option<String>,
    /// `None` omits `type` (Kubernetes then stores `Opaque`).
    pub secret_type: Option<String>,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub immutable: bool,
}

/// Every top-level leaf of a decrypted document (or of the mapping `extract` points at) as one
/// key. Nested values are refused, with the two ways out.
pub fn entries_from_document(
    doc: &Document,
    path: &Path,
    extract: &[PathComponent],
    text: bool,
) -> Result<Vec<Entry>, Error> {
    let first = match doc.branches.as_slice() {
        [one] => one,
        [] => return Ok(Vec::new()),
        _ => {
            return Err(Error::Usage(format!(
                "{}: has several YAML documents; a Secret is made from one mapping (use --from-file=KEY={} to keep the whole file)",
                path.display(),
                path.display()
            )))
        }
    };
    let map = if extract.is_empty() {
        first
    } else {
        match lookup(first, extract) {
            Ok(Found::Map(map)) => map,
            Ok(_) => {
                return Err(Error::Usage(format!(
                    "{}: --extract must point at a mapping",
                    path.display()
                )))
            }
            Err(e) => return Err(Error::Usage(format!("{}: --extract: {e}", path.display()))),
        }
    };
    map.entries()
        .map(|(key, value)| match value {
            Node::Scalar(scalar) => Ok(Entry {
                key: key.to_string(),
                value: Zeroizing::new(scalar_bytes(scalar)),
                text,
            }),
            _ => Err(Error::Usage(format!(
                "{}: the value of `{key}` is nested; pick a mapping with --extract '[\"{key}\"]', or put the whole file under one key with --from-file=KEY={}",
                path.display(),
                path.display()
            ))),
        })
        .collect()
}

/// `[-._a-zA-Z0-9]+`, as the API server requires of Secret keys.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// A DNS subdomain name (RFC 1123), as metadata.name must be.
pub fn valid_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Lower-cases a file stem into a usable Secret name (`App_Secrets.enc` → `app-secrets-enc`).
pub fn name_from_path(path: &Path) -> String {
    let stem = path
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = stem
        .strip_suffix(".yaml")
        .or_else(|| stem.strip_suffix(".yml"))
        .or_else(|| stem.strip_suffix(".json"))
        .or_else(|| stem.strip_suffix(".env"))
        .or_else(|| stem.strip_suffix(".ini"))
        .unwrap_or(&stem);
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "secret".to_string()
    } else {
        name
    }
}

/// The keys a typed Secret must have: every key of one inner list must be present for some list.
fn required_keys(secret_type: &str) -> &'static [&'static [&'static str]] {
    match secret_type {
        "kubernetes.io/tls" => &[&["tls.crt", "tls.key"]],
        "kubernetes.io/dockerconfigjson" => &[&[".dockerconfigjson"]],
        "kubernetes.io/dockercfg" => &[&[".dockercfg"]],
        "kubernetes.io/basic-auth" => &[&["username"], &["password"]],
        "kubernetes.io/ssh-auth" => &[&["ssh-privatekey"]],
        _ => &[],
    }
}

/// The checks the API server would make, done before anything is printed.
pub fn validate(meta: &SecretMeta, entries: &[Entry]) -> Result<(), Error> {
    validate_as("Secret", meta, entries)
}

/// [`validate`] for a Secret or a ConfigMap (`kind` names it in errors; both have the same key,
/// name and 1 MiB rules).
pub fn validate_as(kind: &str, meta: &SecretMeta, entries: &[Entry]) -> Result<(), Error> {
    if !valid_name(&meta.name) {
        return Err(Error::Usage(format!(
            "`{}` is not a valid {kind} name (lower-case letters, digits, '-' and '.')",
            meta.name
        )));
    }
    let mut total = 0;
    for (i, entry) in entries.iter().enumerate() {
        if !valid_key(&entry.key) {
            return Err(Error::Usage(format!(
                "{kind} {}: key `{}` is invalid; keys may contain only letters, digits, '-', '.' and '_'",
                meta.name, entry.key
            )));
        }
        if entries[..i].iter().any(|e| e.key == entry.key) {
            return Err(Error::Usage(format!(
                "{kind} {}: key `{}` is given twice",
                meta.name, entry.key
            )));
        }
        total += entry.value.len();
    }
    if total > MAX_SECRET_BYTES {
        return Err(Error::Usage(format!(
            "{kind} {}: {total} bytes of data exceed Kubernetes's 1 MiB limit",
            meta.name
        )));
    }
    if let Some(t) = meta.secret_type.as_deref() {
        check_type(&meta.name, t, entries)?;
    }
    Ok(())
}

fn check_type(name: &str, secret_type: &str, entries: &[Entry]) -> Result<(), Error> {
    let has = |k: &str| entries.iter().any(|e| e.key == k);
    let alternatives = required_keys(secret_type);
    if !alternatives.is_empty() && !alternatives.iter().any(|keys| keys.iter().all(|k| has(k))) {
        let wanted: Vec<String> = alternatives.iter().map(|keys| keys.join(" and ")).collect();
        return Err(Error::Usage(format!(
            "Secret {name} of type {secret_type} needs the key(s) {}",
            wanted.join(" or ")
        )));
    }
    let json_key = match secret_type {
        "kubernetes.io/dockerconfigjson" => Some(".dockerconfigjson"),
        "kubernetes.io/dockercfg" => Some(".dockercfg"),
        _ => None,
    };
    if let Some(key) = json_key {
        let entry = entries
            .iter()
            .find(|e| e.key == key)
            .expect("checked above");
        if serde_json::from_slice::<serde_json::Value>(&entry.value).is_err() {
            return Err(Error::Usage(format!(
                "Secret {name}: `{key}` is not valid JSON"
            )));
        }
    }
    Ok(())
}

fn string_map(pairs: &[(String, String)]) -> Node {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(k, Node::str(v.clone()));
    }
    Node::Map(map)
}

fn metadata(meta: &SecretMeta) -> Map {
    let mut metadata = Map::new();
    metadata.push("name", Node::str(meta.name.clone()));
    if let Some(ns) = &meta.namespace {
        metadata.push("namespace", Node::str(ns.clone()));
    }
    if !meta.labels.is_empty() {
        metadata.push("labels", string_map(&meta.labels));
    }
    if !meta.annotations.is_empty() {
        metadata.push("annotations", string_map(&meta.annotations));
    }
    metadata
}

/// UTF-8 text values (when `text` asks for it) and base64 values, each in its given order.
fn split_values(entries: &[Entry]) -> (Map, Map) {
    let mut text_values = Map::new();
    let mut binary_values = Map::new();
    for entry in entries {
        match std::str::from_utf8(&entry.value) {
            Ok(text) if entry.text => text_values.push(entry.key.clone(), Node::str(text)),
            _ => binary_values.push(
                entry.key.clone(),
                Node::str(base64::engine::general_purpose::STANDARD.encode(&entry.value)),
            ),
        }
    }
    (text_values, binary_values)
}

/// A `v1/ConfigMap` (validate first): text under `data`, the rest base64 under `binaryData`.
pub fn config_map(meta: &SecretMeta, entries: &[Entry]) -> Map {
    let (data, binary_data) = split_values(entries);
    let mut map = Map::new();
    map.push("apiVersion", Node::str("v1"));
    map.push("kind", Node::str("ConfigMap"));
    map.push("metadata", Node::Map(metadata(meta)));
    if meta.immutable {
        map.push("immutable", Node::Scalar(Scalar::Bool(true)));
    }
    if !data.items.is_empty() || binary_data.items.is_empty() {
        map.push("data", Node::Map(data));
    }
    if !binary_data.items.is_empty() {
        map.push("binaryData", Node::Map(binary_data));
    }
    map
}

/// The Secret as a document tree (validate first). Keys keep their given order.
pub fn manifest(meta: &SecretMeta, entries: &[Entry]) -> Map {
    let metadata = metadata(meta);
    let (string_data, data) = split_values(entries);
    let mut secret = Map::new();
    secret.push("apiVersion", Node::str("v1"));
    secret.push("kind", Node::str("Secret"));
    secret.push("metadata", Node::Map(metadata));
    if let Some(t) = &meta.secret_type {
        secret.push("type", Node::str(t.clone()));
    }
    if meta.immutable {
        secret.push("immutable", Node::Scalar(Scalar::Bool(true)));
    }
    if !data.items.is_empty() || string_data.items.is_empty() {
        secret.push("data", Node::Map(data));
    }
    if !string_data.items.is_empty() {
        secret.push("stringData", Node::Map(string_data));
    }
    secret
}

/// Kubernetes manifests as YAML, two-space indented, `---` between documents.
pub fn emit_yaml(resources: Vec<Map>) -> Result<Zeroizing<Vec<u8>>, Error> {
    let store = store_for(Format::Yaml, k8s_yaml_options());
    let doc = Document {
        branches: resources,
    };
    store
        .emit_plain(&doc)
        .map(Zeroizing::new)
        .map_err(|e| Error::Usage(format!("cannot write the manifest: {e}")))
}

pub fn k8s_yaml_options() -> StoreOptions {
    StoreOptions {
        yaml_indent: 2,
        ..StoreOptions::default()
    }
}

/// A list of strings as a tree node (for resource lists).
pub fn list(nodes: Vec<Node>) -> Node {
    Node::List(nodes.into_iter().map(ListItem::Value).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &[u8]) -> Entry {
        Entry {
            key: key.into(),
            value: Zeroizing::new(value.to_vec()),
            text: false,
        }
    }

    fn meta(name: &str, t: Option<&str>) -> SecretMeta {
        SecretMeta {
            name: name.into(),
            secret_type: t.map(String::from),
            ..SecretMeta::default()
        }
    }

    #[test]
    fn keys_and_names_follow_kubernetes() {
        assert!(valid_key("tls.crt") && valid_key(".dockerconfigjson") && valid_key("A_b-1"));
        assert!(!valid_key("a/b") && !valid_key("") && !valid_key("a b"));
        assert!(valid_name("app-secrets") && valid_name("a.b-c"));
        assert!(!valid_name("App") && !valid_name("-a") && !valid_name("a..b"));
        assert_eq!(
            name_from_path(Path::new("x/App_Secrets.enc.yaml")),
            "app-secrets-enc"
        );
        assert_eq!(name_from_path(Path::new("__")), "secret");
    }

    #[test]
    fn typed_secrets_need_their_keys() {
        let tls = [entry("tls.crt", b"c")];
        assert!(validate(&meta("t", Some("kubernetes.io/tls")), &tls).is_err());
        let tls = [entry("tls.crt", b"c"), entry("tls.key", b"k")];
        assert!(validate(&meta("t", Some("kubernetes.io/tls")), &tls).is_ok());
        let auth = [entry("password", b"p")];
        assert!(validate(&meta("t", Some("kubernetes.io/basic-auth")), &auth).is_ok());
        let docker = [entry(".dockerconfigjson", b"{not json")];
        let err = validate(&meta("t", Some("kubernetes.io/dockerconfigjson")), &docker);
        assert!(err.unwrap_err().to_string().contains("not valid JSON"));
        let dup = [entry("a", b"1"), entry("a", b"2")];
        assert!(validate(&meta("t", None), &dup).is_err());
    }

    #[test]
    fn binary_values_stay_in_data_even_when_text_is_asked() {
        let entries = [
            Entry {
                key: "t".into(),
                value: Zeroizing::new(b"hello".to_vec()),
                text: true,
            },
            Entry {
                key: "b".into(),
                value: Zeroizing::new(vec![0xff, 0x00]),
                text: true,
            },
        ];
        let m = manifest(&meta("s", None), &entries);
        let data = m.get("data").and_then(Node::as_map).unwrap();
        assert_eq!(data.get("b").and_then(Node::as_str), Some("/wA="));
        let sd = m.get("stringData").and_then(Node::as_map).unwrap();
        assert_eq!(sd.get("t").and_then(Node::as_str), Some("hello"));
    }

    #[test]
    fn nested_values_say_how_to_pick() {
        let mut inner = Map::new();
        inner.push("x", Node::str("1"));
        let mut top = Map::new();
        top.push("db", Node::Map(inner));
        let doc = Document::single(top);
        let err = entries_from_document(&doc, Path::new("s.yaml"), &[], false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("--extract '[\"db\"]'") && err.contains("--from-file"));
        let picked = entries_from_document(
            &doc,
            Path::new("s.yaml"),
            &[PathComponent::Key("db".into())],
            false,
        )
        .unwrap();
        assert_eq!(picked[0].key, "x");
    }
}
