//! Any other file: the whole content is the single value `data`, kept in the JSON store.

use super::json::JsonStore;
use super::{Store, StoreError, StoreOptions};
use crate::metadata::Metadata;
use crate::tree::{Document, Map, MapItem, Node, Scalar};

const DATA_KEY: &str = "data";

/// What sops adds when a decrypted file cannot be written as binary.
const NOT_BINARY_HINT: &str = "This is likely not an encrypted binary file? \
If not, use --output-type to select the correct output type.";

pub struct BinaryStore {
    json: JsonStore,
}

impl BinaryStore {
    pub fn new(options: StoreOptions) -> Self {
        BinaryStore {
            json: JsonStore::with_indent(options.json_binary_indent),
        }
    }
}

fn emit_error(message: &str) -> StoreError {
    StoreError::Emit {
        format: "binary",
        message: format!("error emitting binary store: {message}\n\n{NOT_BINARY_HINT}"),
    }
}

impl Store for BinaryStore {
    /// The bytes are taken as they are: text stays a string, anything else is kept as bytes
    /// (sops encrypts both alike, as type `str`).
    fn load_plain(&self, bytes: &[u8]) -> Result<Document, StoreError> {
        let value = match std::str::from_utf8(bytes) {
            Ok(text) => Scalar::Str(text.to_string()),
            Err(_) => Scalar::Bytes(bytes.to_vec()),
        };
        let mut map = Map::new();
        map.push(DATA_KEY, Node::Scalar(value));
        Ok(Document::single(map))
    }

    fn load_encrypted(&self, bytes: &[u8]) -> Result<(Document, Option<Metadata>), StoreError> {
        self.json.load_encrypted(bytes)
    }

    fn emit_plain(&self, doc: &Document) -> Result<Vec<u8>, StoreError> {
        let [branch] = doc.branches.as_slice() else {
            return Err(emit_error("there must be exactly one tree branch"));
        };
        let value = branch.items.iter().find_map(|item| match item {
            MapItem::Entry { key, value } if key == DATA_KEY => Some(value),
            _ => None,
        });
        match value {
            Some(Node::Scalar(Scalar::Str(text))) => Ok(text.as_bytes().to_vec()),
            Some(Node::Scalar(Scalar::Bytes(bytes))) => Ok(bytes.clone()),
            Some(_) => Err(emit_error(
                "'data' key in tree does not have a string value",
            )),
            None => Err(emit_error("no binary data found in tree")),
        }
    }

    fn emit_encrypted(&self, doc: Document, metadata: &Metadata) -> Result<Vec<u8>, StoreError> {
        self.json.emit_encrypted(doc, metadata)
    }

    fn emit_value(&self, _value: &Node) -> Result<Vec<u8>, StoreError> {
        Err(StoreError::Emit {
            format: "binary",
            message:
                "Binary files are not structured and extracting a single value is not possible"
                    .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_exactly() {
        let store = BinaryStore::new(StoreOptions::default());
        for input in [&b""[..], b"text\n", b"\xff\x00\xfe raw", b"no newline"] {
            let doc = store.load_plain(input).unwrap();
            assert_eq!(store.emit_plain(&doc).unwrap(), input);
        }
    }

    #[test]
    fn empty_input_is_an_empty_string() {
        let store = BinaryStore::new(StoreOptions::default());
        let doc = store.load_plain(b"").unwrap();
        assert_eq!(doc.branches[0].get("data").unwrap().as_str(), Some(""));
    }

    #[test]
    fn non_binary_documents_are_refused_with_a_hint() {
        let store = BinaryStore::new(StoreOptions::default());
        let mut map = Map::new();
        map.push("other", Node::str("x"));
        let err = store
            .emit_plain(&Document::single(map))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no binary data found in tree"), "{err}");
        assert!(err.contains("--output-type"), "{err}");
        let mut map = Map::new();
        map.push("data", Node::Scalar(Scalar::Int(1)));
        assert!(store.emit_plain(&Document::single(map)).is_err());
        assert!(store.emit_value(&Node::str("x")).is_err());
    }

    #[test]
    fn encrypted_form_is_json() {
        let store = BinaryStore::new(StoreOptions {
            json_binary_indent: Some(2),
            ..StoreOptions::default()
        });
        let doc = store.load_plain(b"abc").unwrap();
        let meta = crate::stores::sample_metadata(1);
        let out = store.emit_encrypted(doc, &meta).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with("{\n  \"data\": \"abc\",\n  \"sops\": {\n    \""),
            "{text}"
        );
        assert!(
            text.ends_with("\"version\": \"3.11.0\"\n  }\n}\n"),
            "{text}"
        );
        let (doc, back) = store.load_encrypted(&out).unwrap();
        assert_eq!(doc.branches[0].get("data").unwrap().as_str(), Some("abc"));
        assert_eq!(back, Some(meta));
    }
}
