//! `decrypt --extract`: one value of a decrypted document, printed as sops prints it.

use super::Error;
use crate::stores::Store;
use crate::tree::path::{lookup, Found, PathComponent};
use crate::tree::{Document, Node, Scalar};
use zeroize::Zeroizing;

/// A string prints raw, a mapping as a whole document (the other documents of a multi-document
/// file stay, as in sops), anything else through the store's single-value form.
pub(super) fn extract(
    doc: &mut Document,
    path: &[PathComponent],
    store: &dyn Store,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let first = doc.branches.first().ok_or(Error::NothingToExtract)?;
    let bytes = match lookup(first, path).map_err(Error::Extract)? {
        Found::Map(map) => {
            let map = map.clone();
            // Swapped in and back out, so the caller's document is unchanged afterwards.
            let original = std::mem::replace(&mut doc.branches[0], map);
            let out = store.emit_plain(doc);
            doc.branches[0] = original;
            out?
        }
        Found::Node(Node::Scalar(Scalar::Str(s))) => s.as_bytes().to_vec(),
        Found::Node(Node::Scalar(Scalar::Bytes(b))) => b.clone(),
        Found::Comment(c) => c.as_bytes().to_vec(),
        Found::Node(node) => store.emit_value(node)?,
    };
    Ok(Zeroizing::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::{store_for, Format, StoreOptions};
    use crate::tree::path::parse_tree_path;

    #[test]
    fn strings_raw_maps_as_documents_and_the_document_is_left_alone() {
        let store = store_for(Format::Yaml, StoreOptions::default());
        let mut doc = store.load_plain(b"a:\n    b: x\n    num: 5\n").unwrap();
        let before = doc.clone();
        let get = |doc: &mut Document, p: &str| {
            extract(doc, &parse_tree_path(p).unwrap(), store.as_ref()).map(|z| z.to_vec())
        };
        assert_eq!(get(&mut doc, r#"["a"]["b"]"#).unwrap(), b"x");
        assert_eq!(get(&mut doc, r#"["a"]"#).unwrap(), b"b: x\nnum: 5\n");
        assert_eq!(get(&mut doc, r#"["a"]["num"]"#).unwrap(), b"5\n");
        assert!(matches!(
            get(&mut doc, r#"["nope"]"#),
            Err(Error::Extract(_))
        ));
        assert!(doc == before);
    }
}
