//! The generator config (KSOPS's schema plus rsops's extensions) read into typed specs, so
//! every field is checked before anything is decrypted.

use super::super::{scalar_bytes, secret::SecretMeta, Error};
use crate::tree::{ListItem, Map, Node, Scalar};
use std::path::Path;

const BEHAVIOR: &str = "kustomize.config.k8s.io/behavior";
const NEEDS_HASH: &str = "kustomize.config.k8s.io/needs-hash";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Secret,
    ConfigMap,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
        }
    }
}

/// One `secretFrom[]` or `configMapFrom[]` entry.
pub struct FromSpec {
    pub kind: Kind,
    pub meta: SecretMeta,
    /// `(key, path)`: the whole plaintext under one key, as text when it is UTF-8.
    pub files: Vec<(String, String)>,
    /// `(key, path)`: the whole plaintext under one key, always base64.
    pub binary_files: Vec<(String, String)>,
    /// One key per top-level value.
    pub envs: Vec<String>,
}

impl FromSpec {
    /// kustomize merges a generated Secret into its base by `data` only: a `stringData` on
    /// either side is dropped (seen with kubectl 1.35's kustomize v5.7), so a merging Secret
    /// writes every value base64-encoded.
    pub fn merges_by_data(&self) -> bool {
        self.kind == Kind::Secret
            && self
                .meta
                .annotations
                .iter()
                .any(|(k, v)| k == BEHAVIOR && v == "merge")
    }
}

pub struct GeneratorSpec {
    /// Whole encrypted manifests, passed through decrypted.
    pub files: Vec<String>,
    /// Secrets first, then ConfigMaps, each in the config's order.
    pub from: Vec<FromSpec>,
}

pub fn parse(config: &Map) -> Result<GeneratorSpec, Error> {
    if ["files", "secretFrom", "configMapFrom"]
        .iter()
        .all(|k| config.get(k).is_none())
    {
        return Err(Error::Usage(
            "the generator config has none of `files`, `secretFrom` or `configMapFrom`".into(),
        ));
    }
    let mut from = Vec::new();
    for (key, kind) in [
        ("secretFrom", Kind::Secret),
        ("configMapFrom", Kind::ConfigMap),
    ] {
        for entry in map_list(config, key)? {
            from.push(from_spec(entry, kind)?);
        }
    }
    Ok(GeneratorSpec {
        files: str_list(config, "files")?,
        from,
    })
}

fn map_list<'a>(config: &'a Map, key: &str) -> Result<Vec<&'a Map>, Error> {
    match config.get(key) {
        None => Ok(Vec::new()),
        Some(Node::List(items)) => items
            .iter()
            .filter_map(|item| match item {
                ListItem::Value(v) => Some(v),
                ListItem::Comment(_) => None,
            })
            .map(|v| {
                v.as_map()
                    .ok_or_else(|| Error::Usage(format!("`{key}` entries must be mappings")))
            })
            .collect(),
        Some(_) => Err(Error::Usage(format!("`{key}` must be a list"))),
    }
}

fn from_spec(spec: &Map, kind: Kind) -> Result<FromSpec, Error> {
    let metadata = spec.get("metadata").and_then(Node::as_map);
    let name = metadata
        .and_then(|m| str_field(m, "name"))
        .ok_or_else(|| Error::Usage(format!("every {} entry needs metadata.name", kind.name())))?;
    if kind == Kind::ConfigMap && spec.get("type").is_some() {
        return Err(Error::Usage(format!(
            "ConfigMap {name}: a ConfigMap has no `type`"
        )));
    }
    let meta = SecretMeta {
        name: name.to_string(),
        namespace: metadata
            .and_then(|m| str_field(m, "namespace"))
            .map(String::from),
        secret_type: str_field(spec, "type").map(String::from),
        labels: str_pairs(metadata, "labels")?,
        annotations: annotations(spec, metadata, name)?,
        immutable: bool_field(spec, "immutable").unwrap_or(false),
    };
    Ok(FromSpec {
        kind,
        meta,
        files: key_paths(spec, "files")?,
        binary_files: key_paths(spec, "binaryFiles")?,
        envs: str_list(spec, "envs")?,
    })
}

/// `metadata.annotations` plus what `behavior` and `disableNameSuffixHash` ask kustomize for.
/// kustomize reads both annotations on a generated resource (and removes them): `behavior`
/// merges into or replaces a resource of the same name from a base; `needs-hash` appends the
/// content hash to the name and updates every reference to it.
fn annotations(
    spec: &Map,
    metadata: Option<&Map>,
    name: &str,
) -> Result<Vec<(String, String)>, Error> {
    let mut annotations = str_pairs(metadata, "annotations")?;
    if let Some(behavior) = str_field(spec, "behavior") {
        annotations.retain(|(k, _)| k != BEHAVIOR);
        annotations.push((BEHAVIOR.into(), behavior.to_string()));
    }
    if let Some(disable) = bool_field(spec, "disableNameSuffixHash") {
        annotations.retain(|(k, _)| k != NEEDS_HASH);
        if !disable {
            annotations.push((NEEDS_HASH.into(), "true".into()));
        }
    }
    for (key, value) in &annotations {
        let allowed: &[&str] = match key.as_str() {
            BEHAVIOR => &["create", "merge", "replace"],
            NEEDS_HASH => &["true", "false"],
            _ => continue,
        };
        if !allowed.contains(&value.as_str()) {
            return Err(Error::Usage(format!(
                "{name}: `{key}` must be one of {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(annotations)
}

fn str_field<'a>(map: &'a Map, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Node::as_str)
}

fn bool_field(map: &Map, key: &str) -> Option<bool> {
    match map.get(key) {
        Some(Node::Scalar(Scalar::Bool(b))) => Some(*b),
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
                String::from_utf8_lossy(&scalar_bytes(s)).to_string(),
            )),
            _ => Err(Error::Usage(format!(
                "`metadata.{key}.{k}` must be a string"
            ))),
        })
        .collect()
}

fn key_paths(spec: &Map, key: &str) -> Result<Vec<(String, String)>, Error> {
    str_list(spec, key)?
        .iter()
        .map(|s| key_and_path(s).map(|(k, p)| (k, p.to_string())))
        .collect()
}

/// `key=path` or `path` (the key is then the file name). A second `=` is an error, as in KSOPS.
pub fn key_and_path(spec: &str) -> Result<(String, &str), Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::{store_for, Format, StoreOptions};

    fn config(yaml: &str) -> Map {
        store_for(Format::Yaml, StoreOptions::default())
            .load_plain(yaml.as_bytes())
            .unwrap()
            .branches
            .remove(0)
    }

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

    #[test]
    fn behavior_and_hash_fields_become_kustomize_annotations() {
        let spec = parse(&config(
            "secretFrom:\n- metadata:\n    name: s\n    annotations:\n      a: b\n  behavior: merge\n  disableNameSuffixHash: false\nconfigMapFrom:\n- metadata:\n    name: c\n    annotations:\n      kustomize.config.k8s.io/needs-hash: \"true\"\n  disableNameSuffixHash: true\n",
        ))
        .unwrap();
        assert_eq!(spec.from.len(), 2);
        let pairs = |i: usize| -> Vec<(String, String)> { spec.from[i].meta.annotations.clone() };
        assert_eq!(
            pairs(0),
            vec![
                ("a".into(), "b".into()),
                (BEHAVIOR.into(), "merge".into()),
                (NEEDS_HASH.into(), "true".into())
            ]
        );
        // An explicit `disableNameSuffixHash: true` wins over the annotation.
        assert!(pairs(1).is_empty());
        assert_eq!(spec.from[1].kind, Kind::ConfigMap);
    }

    #[test]
    fn bad_configs_are_refused_before_any_decryption() {
        for (yaml, says) in [
            ("metadata:\n  name: x\n", "none of"),
            ("secretFrom:\n- metadata:\n    name: s\n  behavior: upsert\n", "behavior"),
            (
                "secretFrom:\n- metadata:\n    name: s\n    annotations:\n      kustomize.config.k8s.io/needs-hash: yes-please\n",
                "needs-hash",
            ),
            ("configMapFrom:\n- metadata:\n    name: c\n  type: Opaque\n", "no `type`"),
            ("secretFrom:\n- files: [a]\n", "metadata.name"),
            ("secretFrom: {}\n", "must be a list"),
        ] {
            let err = parse(&config(yaml)).err().expect(yaml).to_string();
            assert!(err.contains(says), "{yaml}: {err}");
        }
    }
}
