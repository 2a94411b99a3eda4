//! The view of an encrypted document for someone without its keys: the structure, the keys and
//! the unencrypted values as they are, every encrypted value replaced by a short digest of its
//! ciphertext. Two versions of a file then diff as "this value changed" without anything derived
//! from a plaintext: the digest covers the ciphertext only, which the file shows anyway.

use crate::tree::{Document, ListItem, Map, MapItem, Node, Scalar};
use sha2::{Digest, Sha256};

const ENCRYPTED_PREFIX: &str = "ENC[AES256_GCM,";

/// Replaces every `ENC[…]` value and comment of `doc` with its marker, in place.
pub fn mask(doc: &mut Document) {
    for branch in &mut doc.branches {
        mask_map(branch);
    }
}

/// `ENC<str:1a2b3c4d5e6f>`: the value's type and the first 48 bits of SHA-256 of its `ENC[…]`
/// text; `None` for text that is not an encrypted value.
pub fn marker(text: &str) -> Option<String> {
    let inner = text.trim_start().strip_prefix(ENCRYPTED_PREFIX)?;
    let value_type = inner
        .split(',')
        .find_map(|f| f.strip_prefix("type:"))
        .map(|t| t.trim_end_matches(']'))
        .unwrap_or("?");
    let digest = Sha256::digest(text.trim().as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("ENC<{value_type}:{hex}>"))
}

fn mask_text(text: &mut String) {
    if let Some(m) = marker(text) {
        *text = m;
    }
}

fn mask_map(map: &mut Map) {
    for item in &mut map.items {
        match item {
            MapItem::Entry { value, .. } => mask_node(value),
            MapItem::Comment(text) => mask_text(text),
        }
    }
}

fn mask_node(node: &mut Node) {
    match node {
        Node::Map(map) => mask_map(map),
        Node::List(items) => {
            for item in items {
                match item {
                    ListItem::Value(node) => mask_node(node),
                    ListItem::Comment(text) => mask_text(text),
                }
            }
        }
        Node::Scalar(Scalar::Str(text)) => mask_text(text),
        Node::Scalar(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "ENC[AES256_GCM,data:Zm9v,iv:YWJj,tag:ZGVm,type:int]";

    #[test]
    fn encrypted_values_become_markers_of_their_ciphertext() {
        let mut m = Map::new();
        m.push("port", Node::str(SAMPLE));
        m.push("plain", Node::str("visible"));
        m.items.push(MapItem::Comment(SAMPLE.into()));
        let mut doc = Document::single(m);
        mask(&mut doc);
        let map = &doc.branches[0];
        let shown = map.get("port").and_then(Node::as_str).unwrap();
        assert!(shown.starts_with("ENC<int:") && shown.len() == "ENC<int:>".len() + 12);
        assert_eq!(map.get("plain").and_then(Node::as_str), Some("visible"));
        assert!(matches!(&map.items[2], MapItem::Comment(c) if c.starts_with("ENC<int:")));
    }

    #[test]
    fn another_ciphertext_gives_another_marker() {
        let other = SAMPLE.replace("Zm9v", "YmFy");
        assert_ne!(marker(SAMPLE), marker(&other));
        assert_eq!(marker(SAMPLE), marker(SAMPLE));
        assert_eq!(marker("plain text"), None);
    }
}
