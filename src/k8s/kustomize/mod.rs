//! A kustomize generator that accepts KSOPS's schema (`apiVersion: viaduct.ai/v1, kind: ksops`):
//! `files:` are whole encrypted manifests passed through decrypted; each `secretFrom[]` entry
//! becomes one Secret from `files` (`key=path` or `path`; text → `stringData`), `binaryFiles`
//! (→ `data`) and `envs` (one key per top-level value). Extensions over KSOPS: `configMapFrom`
//! (the same sources as a ConfigMap; files without sops metadata pass through as they are),
//! `behavior`, `immutable`, `disableNameSuffixHash`, and any sops format in `envs`. The MAC is
//! always verified, and the listed files are decrypted side by side.
//!
//! Two calling conventions: the KRM function (a `ResourceList` on stdin, one on stdout), and the
//! legacy exec plugin (the path of the generator config as the only argument, resources on stdout).

mod parallel;
mod sources;
mod spec;

pub use parallel::DEFAULT_CONCURRENCY;

use super::secret::{self, entries_from_document, Entry};
use super::Error;
use crate::keys::KeyService;
use crate::stores::{store_for, Format};
use crate::tree::{Document, ListItem, Map, Node};
use sources::{Loaded, Source, Sources, Want};
use spec::{FromSpec, Kind};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// How a generator runs (the CLI fills it in; the library reads no environment).
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// At most this many files are decrypted at once (KSOPS's `KSOPS_CONCURRENCY_LIMIT`).
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

fn parse_yaml(bytes: &[u8], what: &str) -> Result<Document, Error> {
    store_for(Format::Yaml, secret::k8s_yaml_options())
        .load_plain(bytes)
        .map_err(|e| Error::Usage(format!("{what}: {e}")))
}

fn str_field<'a>(map: &'a Map, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Node::as_str)
}

/// Where each entry of one resource comes from: the key, the source's index, and how it is used.
enum Part {
    File {
        key: String,
        source: usize,
        text: bool,
    },
    Env {
        path: PathBuf,
        source: usize,
    },
}

fn plan_parts(sources: &mut Sources, spec: &FromSpec, base: &Path) -> Vec<Part> {
    let plain_ok = spec.kind == Kind::ConfigMap;
    let mut request = |path: &str, want| {
        sources.request(Source {
            path: base.join(path),
            want,
            plain_ok,
        })
    };
    let mut parts = Vec::new();
    for (list, text) in [(&spec.files, true), (&spec.binary_files, false)] {
        for (key, path) in list {
            let source = request(path, Want::Bytes);
            parts.push(Part::File {
                key: key.clone(),
                source,
                text,
            });
        }
    }
    for path in &spec.envs {
        let source = request(path, Want::Document);
        parts.push(Part::Env {
            path: base.join(path),
            source,
        });
    }
    parts
}

fn entries(parts: &[Part], loaded: &[Loaded]) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::File { key, source, text } => {
                let Loaded::Bytes(value) = &loaded[*source] else {
                    unreachable!("file sources are loaded as bytes")
                };
                out.push(Entry {
                    key: key.clone(),
                    value: value.clone(),
                    text: *text,
                });
            }
            Part::Env { path, source } => {
                let Loaded::Document(doc) = &loaded[*source] else {
                    unreachable!("env sources are loaded as documents")
                };
                out.extend(entries_from_document(doc, path, &[], true)?);
            }
        }
    }
    Ok(out)
}

fn resource(spec: &FromSpec, mut entries: Vec<Entry>) -> Result<Map, Error> {
    if spec.merges_by_data() {
        entries.iter_mut().for_each(|e| e.text = false);
    }
    let entries = entries.as_slice();
    secret::validate_as(spec.kind.name(), &spec.meta, entries)?;
    Ok(match spec.kind {
        Kind::Secret => secret::manifest(&spec.meta, entries),
        Kind::ConfigMap => secret::config_map(&spec.meta, entries),
    })
}

/// The resources a generator config yields, paths relative to `base`: the `files` first, then
/// one Secret per `secretFrom` entry, then one ConfigMap per `configMapFrom` entry. Every file is
/// loaded (at most `options.concurrency` at once) before anything is assembled.
pub fn generate(
    keys: &(dyn KeyService + Sync),
    config: &Map,
    base: &Path,
    options: Options,
) -> Result<Vec<Map>, Error> {
    let spec = spec::parse(config)?;
    let mut sources = Sources::default();
    let whole: Vec<usize> = spec
        .files
        .iter()
        .map(|f| {
            sources.request(Source {
                path: base.join(f),
                want: Want::Document,
                plain_ok: false,
            })
        })
        .collect();
    let parts: Vec<Vec<Part>> = spec
        .from
        .iter()
        .map(|f| plan_parts(&mut sources, f, base))
        .collect();
    let loaded = sources.load(keys, options.concurrency)?;
    let mut resources = Vec::new();
    for source in whole {
        let Loaded::Document(doc) = &loaded[source] else {
            unreachable!("whole files are loaded as documents")
        };
        resources.extend(doc.branches.iter().cloned());
    }
    for (from, parts) in spec.from.iter().zip(&parts) {
        resources.push(resource(from, entries(parts, &loaded)?)?);
    }
    Ok(resources)
}

/// Legacy exec plugin: the config file's path in, the resources (multi-document YAML) out.
pub fn legacy(
    keys: &(dyn KeyService + Sync),
    config_path: &Path,
    options: Options,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let bytes = super::read(config_path)?;
    let doc = parse_yaml(&bytes, "the generator config")?;
    let config = doc
        .branches
        .first()
        .ok_or_else(|| Error::Usage("the generator config is empty".into()))?;
    let resources = generate(keys, config, Path::new("."), options)?;
    secret::emit_yaml(resources)
}

/// KRM function: a `ResourceList` in; the same list with the generated resources appended out.
pub fn krm(
    keys: &(dyn KeyService + Sync),
    input: &[u8],
    options: Options,
) -> Result<Zeroizing<Vec<u8>>, Error> {
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
    for resource in generate(keys, config, Path::new("."), options)? {
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
