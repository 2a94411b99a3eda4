//! A kustomize generator that accepts KSOPS's schema (`apiVersion: viaduct.ai/v1, kind: ksops`):
//! `files:` are whole encrypted manifests passed through decrypted; each `secretFrom[]` entry
//! becomes one Secret from `files` (text → `stringData`), `binaryFiles` (→ `data`) and `envs`
//! (one key per top-level value). Extensions over KSOPS: `behavior`, `immutable`,
//! `disableNameSuffixHash`, and any sops format in `envs`. The MAC is always verified.
//!
//! Two calling conventions: the KRM function (a `ResourceList` on stdin, one on stdout), and the
//! legacy exec plugin (the path of the generator config as the only argument, resources on stdout).

use super::secret::{self, entries_from_document, Entry, SecretMeta};
use super::{decrypt_document, decrypt_required, Error};
use crate::keys::KeyService;
use crate::stores::{store_for, Format};
use crate::tree::{Document, ListItem, Map, Node};
use std::path::Path;
use zeroize::Zeroizing;

fn parse_yaml(bytes: &[u8], what: &str) -> Result<Document, Error> {
    store_for(Format::Yaml, secret::k8s_yaml_options())
        .load_plain(bytes)
        .map_err(|e| Error::Usage(format!("{what}: {e}")))
}

fn str_field<'a>(map: &'a Map, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Node::as_str)
}

fn bool_field(map: &Map, key: &str) -> Option<bool> {
    match map.get(key) {
        Some(Node::Scalar(crate::tree::Scalar::Bool(b))) => Some(*b),
        _ => None,
    }
}

fn str_list(map: &Map, key: &str) -> Result<Vec<String>, Error> {
    match map.get(key) {
        None => Ok(Vec::new()),
        Some(Node::List(items)) => items
            .iter()
            .filter_map(|item| match item {
                ListItem::Value(v) => Some(v),
                ListItem::Comment(_) => None,
            })
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::Usage(format!("`{key}` must be a list of strings")))
            })
            .collect(),
        Some(_) => Err(Error::Usage(format!("`{key}` must be a list"))),
    }
}

fn str_pairs(map: Option<&Map>, key: &str) -> Result<Vec<(String, String)>, Error> {
    let Some(node) = map.and_then(|m| m.get(key)) else {
        return Ok(Vec::new());
    };
    let inner = node
        .as_map()
        .ok_or_else(|| Error::Usage(format!("`metadata.{key}` must be a mapping")))?;
    inner
        .entries()
        .map(|(k, v)| match v {
            Node::Scalar(s) => Ok((
                k.to_string(),
                String::from_utf8_lossy(&super::scalar_bytes(s)).to_string(),
            )),
            _ => Err(Error::Usage(format!(
                "`metadata.{key}.{k}` must be a string"
            ))),
        })
        .collect()
}

/// `key=path` or `path` (the key is then the file name). A second `=` is an error, not an exit.
fn key_and_path(spec: &str) -> Result<(String, &str), Error> {
    match spec.split_once('=') {
        Some((_, rest)) if rest.contains('=') => Err(Error::Usage(format!(
            "`{spec}`: write a file source as KEY=PATH with a single '='"
        ))),
        Some((key, path)) => Ok((key.to_string(), path)),
        None => {
            let key = Path::new(spec)
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            Ok((key, spec))
        }
    }
}

fn file_entries(
    keys: &dyn KeyService,
    specs: &[String],
    text: bool,
    base: &Path,
) -> Result<Vec<Entry>, Error> {
    specs
        .iter()
        .map(|spec| {
            let (key, path) = key_and_path(spec)?;
            let (value, _) = decrypt_required(keys, &base.join(path))?;
            Ok(Entry { key, value, text })
        })
        .collect()
}

/// One `secretFrom[]` entry as a Secret.
fn secret_from(keys: &dyn KeyService, spec: &Map, base: &Path) -> Result<Map, Error> {
    let metadata = spec.get("metadata").and_then(Node::as_map);
    let name = metadata
        .and_then(|m| str_field(m, "name"))
        .ok_or_else(|| Error::Usage("every secretFrom entry needs metadata.name".into()))?;
    let mut annotations = str_pairs(metadata, "annotations")?;
    if let Some(behavior) = str_field(spec, "behavior") {
        if !matches!(behavior, "create" | "merge" | "replace") {
            return Err(Error::Usage(format!(
                "secret {name}: behavior must be create, merge or replace"
            )));
        }
        annotations.push((
            "kustomize.config.k8s.io/behavior".into(),
            behavior.to_string(),
        ));
    }
    if bool_field(spec, "disableNameSuffixHash") == Some(false) {
        annotations.push(("kustomize.config.k8s.io/needs-hash".into(), "true".into()));
    }
    let meta = SecretMeta {
        name: name.to_string(),
        namespace: metadata
            .and_then(|m| str_field(m, "namespace"))
            .map(String::from),
        secret_type: str_field(spec, "type").map(String::from),
        labels: str_pairs(metadata, "labels")?,
        annotations,
        immutable: bool_field(spec, "immutable").unwrap_or(false),
    };
    let mut entries = file_entries(keys, &str_list(spec, "files")?, true, base)?;
    entries.extend(file_entries(
        keys,
        &str_list(spec, "binaryFiles")?,
        false,
        base,
    )?);
    for env in str_list(spec, "envs")? {
        let path = base.join(&env);
        let (doc, _) = decrypt_document(keys, &path)?;
        entries.extend(entries_from_document(&doc, &path, &[], true)?);
    }
    secret::validate(&meta, &entries)?;
    Ok(secret::manifest(&meta, &entries))
}

/// The resources a generator config yields, paths relative to `base`.
pub fn generate(keys: &dyn KeyService, config: &Map, base: &Path) -> Result<Vec<Map>, Error> {
    let mut resources = Vec::new();
    for file in str_list(config, "files")? {
        let (mut doc, _) = decrypt_document(keys, &base.join(file))?;
        resources.append(&mut doc.branches);
    }
    match config.get("secretFrom") {
        None => {}
        Some(Node::List(items)) => {
            for item in items {
                if let ListItem::Value(node) = item {
                    let spec = node.as_map().ok_or_else(|| {
                        Error::Usage("secretFrom entries must be mappings".into())
                    })?;
                    resources.push(secret_from(keys, spec, base)?);
                }
            }
        }
        Some(_) => return Err(Error::Usage("`secretFrom` must be a list".into())),
    }
    Ok(resources)
}

/// Legacy exec plugin: the config file's path in, the resources (multi-document YAML) out.
pub fn legacy(keys: &dyn KeyService, config_path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let bytes = super::read(config_path)?;
    let doc = parse_yaml(&bytes, "the generator config")?;
    let config = doc
        .branches
        .first()
        .ok_or_else(|| Error::Usage("the generator config is empty".into()))?;
    let resources = generate(keys, config, Path::new("."))?;
    secret::emit_yaml(resources)
}

/// KRM function: a `ResourceList` in; the same list with the generated resources appended out.
pub fn krm(keys: &dyn KeyService, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let doc = parse_yaml(input, "the ResourceList on stdin")?;
    let list = doc
        .branches
        .first()
        .ok_or_else(|| Error::Usage("expected a ResourceList on stdin".into()))?;
    if str_field(list, "kind") != Some("ResourceList") {
        return Err(Error::Usage(
            "expected a ResourceList on stdin (kustomize's KRM function protocol); to run as a legacy exec plugin pass the config file path".into(),
        ));
    }
    let config = list
        .get("functionConfig")
        .and_then(Node::as_map)
        .ok_or_else(|| Error::Usage("the ResourceList has no functionConfig".into()))?;
    let mut items: Vec<ListItem> = match list.get("items") {
        Some(Node::List(items)) => items.clone(),
        _ => Vec::new(),
    };
    for resource in generate(keys, config, Path::new("."))? {
        items.push(ListItem::Value(Node::Map(resource)));
    }
    let mut out = Map::new();
    out.push(
        "apiVersion",
        Node::str(str_field(list, "apiVersion").unwrap_or("config.kubernetes.io/v1")),
    );
    out.push("kind", Node::str("ResourceList"));
    out.push("items", Node::List(items));
    secret::emit_yaml(vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sources_are_key_path_or_path() {
        assert_eq!(
            key_and_path("a=b/c.yaml").unwrap(),
            ("a".into(), "b/c.yaml")
        );
        assert_eq!(
            key_and_path("b/c.yaml").unwrap(),
            ("c.yaml".into(), "b/c.yaml")
        );
        assert!(key_and_path("a=b=c").is_err());
    }
}
