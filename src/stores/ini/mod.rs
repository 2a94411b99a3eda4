//! INI, as sops 3.11 reads and writes it through gopkg.in/ini.v1: each section is a top-level
//! mapping of strings (keys before any section live in `DEFAULT`), and the metadata is a
//! `[sops]` section of flattened keys.

mod parse;
mod write;

use super::dotenv::val_to_string;
use super::flatten::{flatten, unflatten};
use super::{metadata_wire, read_metadata, Store, StoreError};
use crate::compat::number::format_float_g;
use crate::metadata::Metadata;
use crate::tree::{Document, ListItem, Map, MapItem, Node, Scalar};
use write::OutSection;

const SOPS_SECTION: &str = "sops";

pub struct IniStore;

fn emit_error(message: String) -> StoreError {
    StoreError::Emit {
        format: "ini",
        message,
    }
}

/// sops's `stripCommentChar`: every leading marker and space goes.
fn strip_comment_char(comment: &str) -> String {
    if comment.starts_with(';') {
        comment.trim_start_matches([';', ' ']).to_string()
    } else if comment.starts_with('#') {
        comment.trim_start_matches(['#', ' ']).to_string()
    } else {
        comment.to_string()
    }
}

fn section_node(section: &parse::Section) -> Node {
    let mut map = Map::new();
    if !section.comment.is_empty() {
        map.items
            .push(MapItem::Comment(strip_comment_char(&section.comment)));
    }
    for key in &section.keys {
        map.push(key.name.clone(), Node::str(key.value.clone()));
        if !key.comment.is_empty() {
            map.items
                .push(MapItem::Comment(strip_comment_char(&key.comment)));
        }
    }
    Node::Map(map)
}

/// sops's `encodeTree`: a leading comment is the section's, a later one belongs to the key
/// before it (and a second one replaces the first).
fn out_section(name: &str, value: &Node) -> Result<OutSection, StoreError> {
    if name.is_empty() {
        return Err(emit_error("empty section name".to_string()));
    }
    let Node::Map(map) = value else {
        return Err(emit_error(format!(
            "section {name}: section values should always be mappings"
        )));
    };
    let mut section = OutSection {
        name: name.to_string(),
        comment: String::new(),
        keys: Vec::new(),
    };
    let mut items = map.items.as_slice();
    if let Some(MapItem::Comment(text)) = items.first() {
        section.comment = text.clone();
        items = &items[1..];
    }
    let mut last_key: Option<usize> = None;
    for item in items {
        match item {
            MapItem::Comment(text) => {
                if let Some(index) = last_key {
                    section.keys[index].comment = text.clone();
                }
            }
            MapItem::Entry { key, value } => {
                if key.is_empty() {
                    return Err(emit_error(format!("section {name}: empty key name")));
                }
                let text = match value {
                    Node::Scalar(scalar) => val_to_string(scalar),
                    nested => {
                        let mut out = Vec::new();
                        go_print_v(&mut out, nested);
                        out
                    }
                };
                last_key = Some(section.new_key(key, text));
            }
        }
    }
    Ok(section)
}

/// Go's `fmt.Sprintf("%v", v)` of a nested value, which is what sops writes for a list or
/// mapping inside a section (`[1 2]`, `[{key value}]`). Times keep their RFC 3339 text.
fn go_print_v(out: &mut Vec<u8>, node: &Node) {
    match node {
        Node::Scalar(Scalar::Float(f)) => out.extend_from_slice(format_float_g(*f).as_bytes()),
        Node::Scalar(scalar) => out.extend_from_slice(&val_to_string(scalar)),
        Node::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                match item {
                    ListItem::Value(value) => go_print_v(out, value),
                    ListItem::Comment(text) => {
                        out.push(b'{');
                        out.extend_from_slice(text.as_bytes());
                        out.push(b'}');
                    }
                }
            }
            out.push(b']');
        }
        Node::Map(map) => {
            out.push(b'[');
            for (i, item) in map.items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.push(b'{');
                match item {
                    MapItem::Entry { key, value } => {
                        out.extend_from_slice(key.as_bytes());
                        out.push(b' ');
                        go_print_v(out, value);
                    }
                    MapItem::Comment(text) => {
                        out.push(b'{');
                        out.extend_from_slice(text.as_bytes());
                        out.extend_from_slice(b"} <nil>");
                    }
                }
                out.push(b'}');
            }
            out.push(b']');
        }
    }
}

fn encode<'a>(items: impl Iterator<Item = &'a MapItem>) -> Result<Vec<u8>, StoreError> {
    let mut sections = Vec::new();
    for item in items {
        if let MapItem::Entry { key, value } = item {
            sections.push(out_section(key, value)?);
        }
    }
    Ok(write::write(&sections))
}

impl Store for IniStore {
    fn load_plain(&self, bytes: &[u8]) -> Result<Document, StoreError> {
        let mut map = Map::new();
        for section in parse::parse(bytes)? {
            map.push(section.name.clone(), section_node(&section));
        }
        Ok(Document::single(map))
    }

    fn load_encrypted(&self, bytes: &[u8]) -> Result<(Document, Option<Metadata>), StoreError> {
        let sections = parse::parse(bytes)?;
        let mut map = Map::new();
        let mut metadata = None;
        for section in &sections {
            if section.name != SOPS_SECTION {
                map.push(section.name.clone(), section_node(section));
            } else if metadata.is_none() {
                // Values written by sops 3.13.0/3.13.1 hold real newlines (`"""` blocks); the
                // others spell them `\n`. Both end up as newlines.
                let pairs = section
                    .keys
                    .iter()
                    .map(|k| (k.name.clone(), k.value.replace("\\n", "\n")))
                    .collect();
                metadata = Some(unflatten(pairs)?);
            }
        }
        Ok((Document::single(map), read_metadata(metadata)?))
    }

    fn emit_plain(&self, doc: &Document) -> Result<Vec<u8>, StoreError> {
        encode(doc.branches.iter().flat_map(|b| b.items.iter()))
    }

    fn emit_encrypted(&self, doc: Document, metadata: &Metadata) -> Result<Vec<u8>, StoreError> {
        let mut sops = Map::new();
        for (key, value) in flatten(&metadata_wire::to_node(metadata)) {
            sops.push(key, Node::str(value.replace('\n', "\\n")));
        }
        let sops_item = MapItem::Entry {
            key: SOPS_SECTION.to_string(),
            value: Node::Map(sops),
        };
        let data = doc.branches.iter().flat_map(|b| b.items.iter());
        encode(data.chain(std::iter::once(&sops_item)))
    }

    /// sops prints `json.Marshal` of the value (compact, Go's struct layout for mappings).
    fn emit_value(&self, value: &Node) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        super::json::write_go_marshal(&mut out, value)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(input: &str) -> String {
        let doc = IniStore.load_plain(input.as_bytes()).unwrap();
        String::from_utf8(IniStore.emit_plain(&doc).unwrap()).unwrap()
    }

    #[test]
    fn sections_become_mappings() {
        let doc = IniStore
            .load_plain(b"top=1\n; c1\n[s]\na = x ; c2\n")
            .unwrap();
        let branch = &doc.branches[0];
        let keys: Vec<&str> = branch.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["DEFAULT", "s"]);
        let s = branch.get("s").unwrap().as_map().unwrap();
        assert!(matches!(&s.items[0], MapItem::Comment(c) if c == "c1"));
        assert!(matches!(&s.items[2], MapItem::Comment(c) if c == "c2"));
    }

    #[test]
    fn round_trips_like_sops() {
        assert_eq!(
            roundtrip("[s]\na=1\n; about b\nbb = \"two words\"\n[t]\nx: y\n"),
            "[s]\na  = 1\n; about b\nbb = two words\n\n[t]\nx = y\n"
        );
        assert_eq!(roundtrip("k = v\n[s]\na = 1\n"), "k = v\n\n[s]\na = 1\n");
    }

    #[test]
    fn sections_must_be_mappings_and_nested_values_print_like_go() {
        let mut map = Map::new();
        map.push("s", Node::str("x"));
        assert!(IniStore.emit_plain(&Document::single(map)).is_err());
        let mut deep = Map::new();
        deep.push("a", Node::Scalar(Scalar::Float(1e21)));
        let mut inner = Map::new();
        inner.push(
            "k",
            Node::List(vec![
                ListItem::Value(Node::Scalar(Scalar::Float(1.0))),
                ListItem::Value(Node::Map(deep)),
            ]),
        );
        let mut map = Map::new();
        map.push("s", Node::Map(inner));
        assert_eq!(
            IniStore.emit_plain(&Document::single(map)).unwrap(),
            b"[s]\nk = [1 [{a 1e+21}]]\n"
        );
        let mut inner = Map::new();
        inner.push("n", Node::Scalar(Scalar::Int(5)));
        let mut map = Map::new();
        map.push("s", Node::Map(inner));
        assert_eq!(
            IniStore.emit_plain(&Document::single(map)).unwrap(),
            b"[s]\nn = 5\n"
        );
    }

    #[test]
    fn metadata_section_round_trips_both_newline_spellings() {
        let doc = IniStore.load_plain(b"[s]\na = 1\n").unwrap();
        let meta = crate::stores::sample_metadata(1);
        let out = IniStore.emit_encrypted(doc, &meta).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        let spelled = "age__list_0__map_enc       = line1\\nline2\n";
        assert!(text.contains("\n[sops]\n"), "{text}");
        assert!(text.contains(spelled), "{text}");
        let (doc, back) = IniStore.load_encrypted(&out).unwrap();
        assert!(!doc.branches[0].contains_key("sops"));
        assert_eq!(back.as_ref(), Some(&meta));
        let v313 = text.replace(spelled, "age__list_0__map_enc = \"\"\"line1\nline2\"\"\"\n");
        let (_, back) = IniStore.load_encrypted(v313.as_bytes()).unwrap();
        assert_eq!(back, Some(meta));
    }

    #[test]
    fn emit_value_is_compact_json() {
        let list = Node::List(vec![crate::tree::ListItem::Value(Node::str("<a>"))]);
        assert_eq!(IniStore.emit_value(&list).unwrap(), br#"["\u003ca\u003e"]"#);
    }
}
