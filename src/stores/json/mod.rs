//! JSON, as sops 3.11 reads and writes it: key order and duplicate keys kept, Go's escaping and
//! number spellings, tab indentation by default, the `sops` block as the last top-level key.

mod decode;
mod encode;

pub(crate) use decode::go_lossy_utf8;
pub(crate) use encode::write_go_marshal;

use super::{metadata_wire, read_metadata, Store, StoreError, StoreOptions};
use crate::metadata::Metadata;
use crate::tree::{Document, Map, Node};
use encode::Indenter;

const SOPS_KEY: &str = "sops";
/// The widest indentation unit rsops writes; sops has no limit (and runs out of memory).
const MAX_JSON_INDENT: usize = 1024;

pub struct JsonStore {
    indent: Option<usize>,
}

impl JsonStore {
    pub fn new(options: StoreOptions) -> Self {
        JsonStore {
            indent: options.json_indent,
        }
    }

    /// The JSON store with an explicit indentation (`None` = tab); the binary store wraps one.
    pub(crate) fn with_indent(indent: Option<usize>) -> Self {
        JsonStore { indent }
    }

    /// sops repeats the space `indent` times whatever the number, so a huge value exhausts memory
    /// there; here it is an error.
    fn unit(&self) -> Result<String, StoreError> {
        match self.indent {
            None => Ok("\t".to_string()),
            Some(n) if n <= MAX_JSON_INDENT => Ok(" ".repeat(n)),
            Some(n) => Err(StoreError::Emit {
                format: "json",
                message: format!(
                    "an indentation of {n} spaces is too large (at most {MAX_JSON_INDENT})"
                ),
            }),
        }
    }

    fn emit_map(&self, map: &Map) -> Result<Vec<u8>, StoreError> {
        let unit = self.unit()?;
        let mut out = Vec::new();
        Indenter { unit: &unit }.map(&mut out, map, 0)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// Go marshals the nil `hc_vault`/`age` slices of a key group as `null` in JSON (`[]` in YAML).
fn empty_key_list() -> Node {
    Node::Scalar(crate::tree::Scalar::Null)
}

fn single_branch(doc: &Document) -> Result<&Map, StoreError> {
    doc.branches.first().ok_or_else(|| StoreError::Emit {
        format: "json",
        message: "the document has no content".to_string(),
    })
}

impl Store for JsonStore {
    fn load_plain(&self, bytes: &[u8]) -> Result<Document, StoreError> {
        Ok(Document::single(decode::parse_object_lenient(bytes)?))
    }

    fn load_encrypted(&self, bytes: &[u8]) -> Result<(Document, Option<Metadata>), StoreError> {
        let mut map = decode::parse_object_strict(bytes)?;
        // Go's json.Unmarshal keeps the last of repeated keys.
        let metadata = map
            .entries()
            .filter(|(key, _)| *key == SOPS_KEY)
            .last()
            .map(|(_, value)| value.clone());
        map.remove(SOPS_KEY);
        Ok((Document::single(map), read_metadata(metadata)?))
    }

    fn emit_plain(&self, doc: &Document) -> Result<Vec<u8>, StoreError> {
        self.emit_map(single_branch(doc)?)
    }

    fn emit_encrypted(
        &self,
        mut doc: Document,
        metadata: &Metadata,
    ) -> Result<Vec<u8>, StoreError> {
        single_branch(&doc)?;
        let metadata = metadata_wire::to_node_with(metadata, empty_key_list());
        // Take the branch rather than clone it: the document is ours and may be huge.
        let mut map = std::mem::take(&mut doc.branches[0]);
        map.push(SOPS_KEY, metadata);
        let out = self.emit_map(&map);
        doc.branches[0] = map;
        out
    }

    /// sops's `EmitValue`: the value indented like a file, without the trailing newline.
    fn emit_value(&self, value: &Node) -> Result<Vec<u8>, StoreError> {
        let unit = self.unit()?;
        let mut out = Vec::new();
        Indenter { unit: &unit }.node(&mut out, value, 0)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{ListItem, MapItem, Scalar};

    fn roundtrip(input: &str, indent: Option<usize>) -> String {
        let store = JsonStore::with_indent(indent);
        let doc = store.load_plain(input.as_bytes()).unwrap();
        String::from_utf8(store.emit_plain(&doc).unwrap()).unwrap()
    }

    #[test]
    fn emits_like_json_indent() {
        let input = r#"{"a": {"b": [1, {}, [], {"x": null}], "c": "<&>"}, "e": {}}"#;
        assert_eq!(
            roundtrip(input, None),
            "{\n\t\"a\": {\n\t\t\"b\": [\n\t\t\t1,\n\t\t\t{},\n\t\t\t[],\n\t\t\t{\n\t\t\t\t\"x\": null\n\t\t\t}\n\t\t],\n\t\t\"c\": \"\\u003c\\u0026\\u003e\"\n\t},\n\t\"e\": {}\n}\n"
        );
        assert_eq!(
            roundtrip(r#"{"a": [1]}"#, Some(2)),
            "{\n  \"a\": [\n    1\n  ]\n}\n"
        );
        assert_eq!(
            roundtrip(r#"{"a": [1]}"#, Some(0)),
            "{\n\"a\": [\n1\n]\n}\n"
        );
        assert_eq!(roundtrip("{}", None), "{}\n");
    }

    #[test]
    fn numbers_print_as_go() {
        assert_eq!(
            roundtrip(r#"{"a": 1e21, "b": 1e-7, "c": 1.50, "d": -0, "e": 12345678901234567890}"#, Some(0)),
            "{\n\"a\": 1e+21,\n\"b\": 1e-7,\n\"c\": 1.5,\n\"d\": -0,\n\"e\": 12345678901234567000\n}\n"
        );
        let store = JsonStore::with_indent(None);
        let mut map = Map::new();
        map.push("x", Node::Scalar(Scalar::Float(f64::NAN)));
        assert!(store.emit_plain(&Document::single(map)).is_err());
    }

    #[test]
    fn comments_are_left_out() {
        let mut map = Map::new();
        map.items.push(MapItem::Comment("c".into()));
        map.push(
            "l",
            Node::List(vec![
                ListItem::Comment("d".into()),
                ListItem::Value(Node::str("v")),
            ]),
        );
        let out = JsonStore::with_indent(Some(1))
            .emit_plain(&Document::single(map))
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n \"l\": [\n  \"v\"\n ]\n}\n"
        );
    }

    #[test]
    fn metadata_goes_last_and_comes_back() {
        let store = JsonStore::with_indent(None);
        let doc = store.load_plain(br#"{"a": "x"}"#).unwrap();
        let meta = crate::stores::sample_metadata(1);
        let out = store.emit_encrypted(doc, &meta).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.ends_with("\t\t\"version\": \"3.11.0\"\n\t}\n}\n"),
            "{text}"
        );
        let (doc, back) = store.load_encrypted(&out).unwrap();
        assert!(!doc.branches[0].contains_key("sops"));
        assert_eq!(back, Some(meta));
        let (_, none) = store.load_encrypted(br#"{"a": 1}"#).unwrap();
        assert!(none.is_none());
    }

    /// Go marshals a key group's nil key lists as `null` in JSON; the YAML store writes `[]`.
    /// Callers hand both stores the same metadata.
    #[test]
    fn empty_key_lists_of_key_groups_are_null() {
        let meta = crate::stores::sample_metadata(2);
        let doc = || Document::single(Map::new());
        let json = JsonStore::with_indent(Some(1))
            .emit_encrypted(doc(), &meta)
            .unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.contains("\"hc_vault\": null"), "{json}");
        assert!(!json.contains("[]"), "{json}");
        let yaml = crate::stores::yaml::YamlStore::new(StoreOptions::default())
            .emit_encrypted(doc(), &meta)
            .unwrap();
        assert!(String::from_utf8(yaml).unwrap().contains("hc_vault: []"));
    }

    /// A `.sops.yaml` `stores.json.indent: 100000000000` aborted on allocation; now an error.
    #[test]
    fn absurd_indentation_is_an_error() {
        let doc = Document::single({
            let mut m = Map::new();
            m.push("a", Node::str("b"));
            m
        });
        let err = JsonStore::with_indent(Some(100_000_000_000))
            .emit_plain(&doc)
            .unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
        assert!(JsonStore::with_indent(Some(MAX_JSON_INDENT))
            .emit_plain(&doc)
            .is_ok());
    }

    #[test]
    fn emit_value_has_no_trailing_newline() {
        let store = JsonStore::with_indent(None);
        let list = Node::List(vec![ListItem::Value(Node::Scalar(Scalar::Bool(true)))]);
        assert_eq!(store.emit_value(&list).unwrap(), b"[\n\ttrue\n]");
        assert_eq!(
            store.emit_value(&Node::Scalar(Scalar::Int(3))).unwrap(),
            b"3"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_survives_emit_then_parse(key in "\\PC*", value in "\\PC*", ctl in "[\\x00-\\x1f<>&\u{2028}\u{2029}\"\\\\]*") {
            let store = JsonStore::with_indent(None);
            let mut map = Map::new();
            map.push(key.clone(), Node::str(format!("{value}{ctl}")));
            let bytes = store.emit_plain(&Document::single(map.clone())).unwrap();
            let doc = store.load_plain(&bytes).unwrap();
            proptest::prop_assert!(doc.branches[0] == map);
        }
    }
}
