//! dotenv, as sops 3.11 reads it: one `KEY=VALUE` per line, split at the first `=`, no quoting,
//! `\n` as the only escape; the metadata as flattened `sops_…` lines after the data.

use super::flatten::{flatten, unflatten};
use super::{metadata_wire, read_metadata, Store, StoreError};
use crate::compat::number::format_float_g;
use crate::metadata::Metadata;
use crate::tree::{Document, Map, MapItem, Node, Scalar};

const SOPS_PREFIX: &str = "sops_";

pub struct DotenvStore;

/// Go's `strings.Replace(s, from, to, -1)` on bytes.
fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn string_scalar(bytes: Vec<u8>) -> Scalar {
    match String::from_utf8(bytes) {
        Ok(text) => Scalar::Str(text),
        Err(e) => Scalar::Bytes(e.into_bytes()),
    }
}

/// sops's `stores.ValToString`, the text a non-string value gets in dotenv and INI output.
pub fn val_to_string(scalar: &Scalar) -> Vec<u8> {
    match scalar {
        Scalar::Str(s) => s.as_bytes().to_vec(),
        Scalar::Bytes(b) => b.clone(),
        Scalar::Int(i) => i.to_string().into_bytes(),
        Scalar::Bool(b) => b.to_string().into_bytes(),
        Scalar::Null => b"<nil>".to_vec(),
        Scalar::Time(t) => crate::compat::rfc3339::normalize_rfc3339(t)
            .unwrap_or_else(|| t.clone())
            .into_bytes(),
        Scalar::Float(f) => {
            // `strconv.FormatFloat(f, 'G', -1, 64)`, with a `.0` added when it looks integral.
            let g = format_float_g(*f).replace('e', "E");
            if g.contains('.') || g.contains('E') || !f.is_finite() {
                g.into_bytes()
            } else {
                format!("{f:.1}").into_bytes()
            }
        }
    }
}

fn emit_error(message: String) -> StoreError {
    StoreError::Emit {
        format: "dotenv",
        message,
    }
}

impl DotenvStore {
    fn write_items(out: &mut Vec<u8>, items: &[MapItem]) -> Result<(), StoreError> {
        for item in items {
            match item {
                MapItem::Comment(text) => {
                    out.push(b'#');
                    out.extend_from_slice(text.as_bytes());
                    out.push(b'\n');
                }
                MapItem::Entry { key, value } => {
                    let Node::Scalar(scalar) = value else {
                        return Err(emit_error(format!(
                            "cannot use complex value in dotenv file; offending key {key}"
                        )));
                    };
                    let text = match scalar {
                        Scalar::Str(s) => replace_all(s.as_bytes(), b"\n", b"\\n"),
                        Scalar::Bytes(b) => replace_all(b, b"\n", b"\\n"),
                        other => val_to_string(other),
                    };
                    out.extend_from_slice(key.as_bytes());
                    out.push(b'=');
                    out.extend_from_slice(&text);
                    out.push(b'\n');
                }
            }
        }
        Ok(())
    }
}

impl Store for DotenvStore {
    fn load_plain(&self, bytes: &[u8]) -> Result<Document, StoreError> {
        let mut map = Map::new();
        for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            if line[0] == b'#' {
                let text = crate::stores::json::go_lossy_utf8(&line[1..]);
                map.items.push(MapItem::Comment(text));
                continue;
            }
            let Some(pos) = line.iter().position(|&b| b == b'=') else {
                return Err(StoreError::Syntax {
                    format: "dotenv",
                    line: Some(index + 1),
                    column: None,
                    message: "the line has no `=`".to_string(),
                });
            };
            let key = crate::stores::json::go_lossy_utf8(&line[..pos]);
            let value = replace_all(&line[pos + 1..], b"\\n", b"\n");
            map.push(key, Node::Scalar(string_scalar(value)));
        }
        Ok(Document::single(map))
    }

    fn load_encrypted(&self, bytes: &[u8]) -> Result<(Document, Option<Metadata>), StoreError> {
        let doc = self.load_plain(bytes)?;
        let mut data = Map::new();
        let mut pairs = Vec::new();
        for item in &doc.branches[0].items {
            match item {
                MapItem::Entry { key, value } if key.starts_with(SOPS_PREFIX) => {
                    let text = match value {
                        Node::Scalar(Scalar::Str(s)) => s.clone(),
                        Node::Scalar(Scalar::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                        _ => String::new(),
                    };
                    pairs.push((key[SOPS_PREFIX.len()..].to_string(), text));
                }
                other => data.items.push(other.clone()),
            }
        }
        let metadata = if pairs.is_empty() {
            None
        } else {
            Some(unflatten(pairs)?)
        };
        Ok((Document::single(data), read_metadata(metadata)?))
    }

    fn emit_plain(&self, doc: &Document) -> Result<Vec<u8>, StoreError> {
        let branch = doc
            .branches
            .first()
            .ok_or_else(|| emit_error("the document has no content".to_string()))?;
        let mut out = Vec::new();
        Self::write_items(&mut out, &branch.items)?;
        Ok(out)
    }

    fn emit_encrypted(&self, doc: Document, metadata: &Metadata) -> Result<Vec<u8>, StoreError> {
        let mut out = self.emit_plain(&doc)?;
        let lines: Vec<MapItem> = flatten(&metadata_wire::to_node(metadata))
            .into_iter()
            .map(|(key, value)| MapItem::Entry {
                key: format!("{SOPS_PREFIX}{key}"),
                value: Node::str(value),
            })
            .collect();
        Self::write_items(&mut out, &lines)?;
        Ok(out)
    }

    fn emit_value(&self, value: &Node) -> Result<Vec<u8>, StoreError> {
        match value {
            Node::Scalar(Scalar::Str(s)) => Ok(s.as_bytes().to_vec()),
            Node::Scalar(Scalar::Bytes(b)) => Ok(b.clone()),
            _ => Err(emit_error(
                "the dotenv store only supports emitting strings".to_string(),
            )),
        }
    }

    fn has_metadata(&self, doc: &Document) -> bool {
        doc.branches.first().is_some_and(|branch| {
            branch
                .entries()
                .any(|(key, _)| key.starts_with(SOPS_PREFIX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(input: &[u8]) -> Vec<u8> {
        let doc = DotenvStore.load_plain(input).unwrap();
        DotenvStore.emit_plain(&doc).unwrap()
    }

    #[test]
    fn lines_are_kept_verbatim() {
        let input = b"# c\nexport A=1\n foo = bar \nB=x=y\n\nC=a\\nb\nD=\"q\"\r\n";
        let doc = DotenvStore.load_plain(input).unwrap();
        let keys: Vec<&str> = doc.branches[0].entries().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["export A", " foo ", "B", "C", "D"]);
        assert_eq!(doc.branches[0].get("C").unwrap().as_str(), Some("a\nb"));
        assert_eq!(doc.branches[0].get("D").unwrap().as_str(), Some("\"q\"\r"));
        assert_eq!(
            roundtrip(input),
            b"# c\nexport A=1\n foo = bar \nB=x=y\nC=a\\nb\nD=\"q\"\r\n".to_vec()
        );
    }

    #[test]
    fn a_line_without_equals_is_an_error_without_its_text() {
        let err = DotenvStore.load_plain(b"A=1\nSECRETVALUE\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("SECRET"));
    }

    #[test]
    fn non_strings_use_val_to_string() {
        let mut map = Map::new();
        for (k, v) in [
            ("i", Scalar::Int(2)),
            ("f", Scalar::Float(1.0)),
            ("g", Scalar::Float(1.5e21)),
            ("h", Scalar::Float(0.25)),
            ("b", Scalar::Bool(true)),
            ("n", Scalar::Null),
            ("t", Scalar::Time("2024-01-02T03:04:05.5+01:00".into())),
        ] {
            map.push(k, Node::Scalar(v));
        }
        let out = DotenvStore.emit_plain(&Document::single(map)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "i=2\nf=1.0\ng=1.5E+21\nh=0.25\nb=true\nn=<nil>\nt=2024-01-02T03:04:05+01:00\n"
        );
        let mut nested = Map::new();
        nested.push("m", Node::Map(Map::new()));
        assert!(DotenvStore.emit_plain(&Document::single(nested)).is_err());
    }

    #[test]
    fn metadata_is_flattened_and_read_back() {
        let doc = DotenvStore.load_plain(b"A=1\n").unwrap();
        assert!(!DotenvStore.has_metadata(&doc));
        let meta = crate::stores::sample_metadata(1);
        let out = DotenvStore.emit_encrypted(doc, &meta).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("A=1\nsops_"), "{text}");
        assert!(
            text.contains("\nsops_age__list_0__map_enc=line1\\nline2\n"),
            "{text}"
        );
        assert!(text.ends_with("\nsops_version=3.11.0\n"), "{text}");
        let (doc, back) = DotenvStore.load_encrypted(&out).unwrap();
        assert_eq!(doc.branches[0].items.len(), 1);
        assert_eq!(back, Some(meta));
        let plain = DotenvStore.load_plain(&out).unwrap();
        assert!(DotenvStore.has_metadata(&plain));
    }
}
