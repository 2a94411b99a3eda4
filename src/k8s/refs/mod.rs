//! Resolving vals-style references in rendered manifests, as helm-secrets' post-renderer does
//! with `--evaluate-templates`: `ref+sops://FILE#/key/path` is the value at that path of the
//! decrypted FILE (MAC verified), `ref+file://FILE#/key/path` the same for a plain YAML/JSON
//! file; without `#…` the whole plaintext. Other schemes (vault, awsssm, …) are left as they
//! are, with a warning. With `decode_secrets`, a Secret's base64 `data` values are decoded,
//! resolved and encoded again (vals's `-decode-kubernetes-secrets`).
//!
//! Each file is read and decrypted once per run, however many references name it.

pub mod parse;

use super::{decrypt_document, decrypt_required, read, secret, Error};
use crate::keys::KeyService;
use crate::stores::{scalar_to_text, store_for, Format, StoreOptions};
use crate::tree::{Document, ListItem, Map, MapItem, Node, Scalar};
use base64::Engine;
use parse::{find_references, Reference};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Rendered manifests larger than this are refused (helm's release size limit is 1 MiB of
/// compressed data; this leaves room for any real chart).
pub const MAX_MANIFESTS: usize = 64 * 1024 * 1024;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Relative reference paths start here (the post-renderer runs in helm's working directory).
    pub base: PathBuf,
    /// Also resolve references inside base64 Secret `data` values.
    pub decode_secrets: bool,
}

pub struct Resolved {
    pub manifests: Zeroizing<Vec<u8>>,
    /// How many references were replaced.
    pub replaced: usize,
    /// One line per scheme left unresolved (no value, no path: safe to print).
    pub warnings: Vec<String>,
}

/// Every reference in `manifests` (multi-document YAML) resolved; the rest re-emitted unchanged
/// in meaning (helm parses the result again).
pub fn resolve_manifests(
    keys: &dyn KeyService,
    manifests: &[u8],
    options: &Options,
) -> Result<Resolved, Error> {
    if manifests.len() > MAX_MANIFESTS {
        return Err(Error::Usage(format!(
            "the rendered manifests are {} bytes, more than the {MAX_MANIFESTS} a post-renderer accepts",
            manifests.len()
        )));
    }
    let store = store_for(Format::Yaml, secret::k8s_yaml_options());
    let mut doc = store
        .load_plain(manifests)
        .map_err(|e| Error::Usage(format!("the rendered manifests are not YAML: {e}")))?;
    let mut resolver = Resolver::new(keys, &options.base);
    for manifest in &mut doc.branches {
        resolver.map(manifest)?;
        if options.decode_secrets && is_secret(manifest) {
            if let Some(Node::Map(data)) = manifest.get_mut("data") {
                resolver.base64_values(data)?;
            }
        }
    }
    let manifests = Zeroizing::new(
        store
            .emit_plain(&doc)
            .map_err(|e| Error::Usage(format!("cannot write the manifests: {e}")))?,
    );
    Ok(Resolved {
        manifests,
        replaced: resolver.replaced,
        warnings: resolver.warnings,
    })
}

fn is_secret(manifest: &Map) -> bool {
    manifest.get("kind").and_then(Node::as_str) == Some("Secret")
}

/// `text` with every reference replaced by what `lookup` gives; `None` from `lookup` leaves that
/// reference as it is, and `Ok(None)` overall means nothing changed.
pub fn substitute<E>(
    text: &str,
    mut lookup: impl FnMut(&Reference) -> Result<Option<Zeroizing<String>>, E>,
) -> Result<Option<Zeroizing<String>>, E>
where
    E: From<parse::ParseError>,
{
    let references = find_references(text)?;
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut copied = 0;
    let mut changed = false;
    for reference in &references {
        if let Some(value) = lookup(reference)? {
            out.push_str(&text[copied..reference.span.start]);
            out.push_str(&value);
            copied = reference.span.end;
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    out.push_str(&text[copied..]);
    Ok(Some(out))
}

impl From<parse::ParseError> for Error {
    fn from(e: parse::ParseError) -> Error {
        Error::Usage(e.to_string())
    }
}

struct Resolver<'a> {
    keys: &'a dyn KeyService,
    base: &'a Path,
    documents: HashMap<(bool, PathBuf), Document>,
    whole: HashMap<(bool, PathBuf), Zeroizing<String>>,
    replaced: usize,
    unknown: BTreeSet<String>,
    warnings: Vec<String>,
}

impl<'a> Resolver<'a> {
    fn new(keys: &'a dyn KeyService, base: &'a Path) -> Resolver<'a> {
        Resolver {
            keys,
            base,
            documents: HashMap::new(),
            whole: HashMap::new(),
            replaced: 0,
            unknown: BTreeSet::new(),
            warnings: Vec::new(),
        }
    }

    fn map(&mut self, map: &mut Map) -> Result<(), Error> {
        for item in &mut map.items {
            if let MapItem::Entry { value, .. } = item {
                self.node(value)?;
            }
        }
        Ok(())
    }

    fn node(&mut self, node: &mut Node) -> Result<(), Error> {
        match node {
            Node::Map(map) => self.map(map),
            Node::List(items) => {
                for item in items {
                    if let ListItem::Value(value) = item {
                        self.node(value)?;
                    }
                }
                Ok(())
            }
            Node::Scalar(Scalar::Str(text)) => {
                if let Some(new) = self.text(text)? {
                    *text = new.to_string();
                }
                Ok(())
            }
            Node::Scalar(_) => Ok(()),
        }
    }

    fn text(&mut self, text: &str) -> Result<Option<Zeroizing<String>>, Error> {
        if !text.contains("ref+") {
            return Ok(None);
        }
        substitute(text, |reference| self.value(reference))
    }

    /// Base64 values that decode to UTF-8 text holding references; the others stay as they are.
    fn base64_values(&mut self, data: &mut Map) -> Result<(), Error> {
        let engine = base64::engine::general_purpose::STANDARD;
        for item in &mut data.items {
            let MapItem::Entry {
                value: Node::Scalar(Scalar::Str(encoded)),
                ..
            } = item
            else {
                continue;
            };
            let Ok(decoded) = engine.decode(encoded.as_bytes()).map(Zeroizing::new) else {
                continue;
            };
            let Ok(text) = std::str::from_utf8(&decoded) else {
                continue;
            };
            if let Some(new) = self.text(text)? {
                *encoded = engine.encode(new.as_bytes());
            }
        }
        Ok(())
    }

    fn value(&mut self, reference: &Reference) -> Result<Option<Zeroizing<String>>, Error> {
        let encrypted = match reference.scheme {
            "sops" => true,
            "file" => false,
            other => {
                if self.unknown.insert(other.to_string()) {
                    self.warnings.push(format!(
                        "ref+{other}:// references are left as they are: rsops resolves only ref+sops:// and ref+file://"
                    ));
                }
                return Ok(None);
            }
        };
        let path = self.base.join(reference.path);
        let key = (encrypted, path);
        let value = match reference.fragment {
            None | Some("") | Some("/") => self.whole_file(key)?,
            Some(pointer) => {
                let doc = self.document(key)?;
                leaf_text(doc, pointer).map_err(|why| {
                    Error::Usage(format!("{}#{pointer}: {why}", reference.label()))
                })?
            }
        };
        self.replaced += 1;
        Ok(Some(value))
    }

    fn whole_file(&mut self, key: (bool, PathBuf)) -> Result<Zeroizing<String>, Error> {
        if let Some(text) = self.whole.get(&key) {
            return Ok(text.clone());
        }
        let bytes = if key.0 {
            decrypt_required(self.keys, &key.1)?.0
        } else {
            Zeroizing::new(read(&key.1)?)
        };
        let text = Zeroizing::new(
            std::str::from_utf8(&bytes)
                .map_err(|_| {
                    Error::Usage(format!(
                        "{}: not UTF-8 text, so it cannot go into a manifest value",
                        key.1.display()
                    ))
                })?
                .to_string(),
        );
        self.whole.insert(key, text.clone());
        Ok(text)
    }

    fn document(&mut self, key: (bool, PathBuf)) -> Result<&Document, Error> {
        if !self.documents.contains_key(&key) {
            let doc = if key.0 {
                decrypt_document(self.keys, &key.1)?.0
            } else {
                plain_document(&key.1)?
            };
            self.documents.insert(key.clone(), doc);
        }
        Ok(&self.documents[&key])
    }
}

/// A plain YAML or JSON file (JSON is YAML), as vals's file provider reads it.
fn plain_document(path: &Path) -> Result<Document, Error> {
    let bytes = read(path)?;
    store_for(Format::Yaml, StoreOptions::default())
        .load_plain(&bytes)
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
}

/// The scalar at `/a/b/0` in the first document, as text.
fn leaf_text(doc: &Document, pointer: &str) -> Result<Zeroizing<String>, String> {
    let root = doc.branches.first().ok_or("the file is empty")?;
    let mut node_ref: Option<&Node> = None;
    let mut map = Some(root);
    for segment in pointer.split('/').filter(|s| !s.is_empty()) {
        let next = match (map, node_ref) {
            (Some(m), _) => m.get(segment),
            (None, Some(Node::List(items))) => segment.parse::<usize>().ok().and_then(|i| {
                items
                    .iter()
                    .filter_map(|item| match item {
                        ListItem::Value(v) => Some(v),
                        ListItem::Comment(_) => None,
                    })
                    .nth(i)
            }),
            _ => None,
        }
        .ok_or_else(|| format!("no value at `{segment}`"))?;
        map = next.as_map();
        node_ref = Some(next);
    }
    match node_ref {
        Some(Node::Scalar(scalar)) => {
            Ok(Zeroizing::new(scalar_to_text(scalar).unwrap_or_default()))
        }
        _ => Err("points at a mapping or a list; reference a single value".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: &str) -> Document {
        store_for(Format::Yaml, StoreOptions::default())
            .load_plain(yaml.as_bytes())
            .unwrap()
    }

    #[test]
    fn pointers_reach_leaves_through_maps_and_lists() {
        let d = doc("db:\n  password: pw\n  port: 5432\nlist:\n  - a\n  - {b: c}\n");
        let text = |p: &str| leaf_text(&d, p).map(|s| s.to_string());
        assert_eq!(text("/db/password").as_deref(), Ok("pw"));
        assert_eq!(text("/db/port").as_deref(), Ok("5432"));
        assert_eq!(text("/list/1/b").as_deref(), Ok("c"));
        assert!(text("/db").unwrap_err().contains("single value"));
        assert!(text("/db/user").unwrap_err().contains("`user`"));
        assert!(text("/list/9").is_err());
    }

    #[test]
    fn substitution_keeps_the_text_around_and_unresolved_references() {
        let lookup = |r: &Reference| -> Result<Option<Zeroizing<String>>, Error> {
            Ok((r.scheme == "sops").then(|| Zeroizing::new(format!("<{}>", r.path))))
        };
        let out = substitute("a ref+sops://x#/k+ b ref+vault://v#/k+ c", lookup).unwrap();
        assert_eq!(
            out.as_deref().map(String::as_str),
            Some("a <x> b ref+vault://v#/k+ c")
        );
        assert!(substitute("ref+vault://v#/k", lookup).unwrap().is_none());
        assert!(substitute("plain", lookup).unwrap().is_none());
    }
}
