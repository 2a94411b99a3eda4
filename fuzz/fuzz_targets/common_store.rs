// Shared by the store targets (included with `include!`, so each target stays one file).
use rsops::stores::{store_for, Format, StoreOptions};

/// Loading never panics; a loaded plaintext document can be written back out, and what a store
/// writes it can read again (the emitters are the loaders' inverse on the tree level).
fn exercise_store(format: Format, data: &[u8]) {
    let store = store_for(format, StoreOptions::default());
    if let Ok(doc) = store.load_plain(data) {
        let _ = store.has_metadata(&doc);
        if let Ok(out) = store.emit_plain(&doc) {
            store
                .load_plain(&out)
                .expect("the store reads back what it wrote");
        }
        for branch in &doc.branches {
            for item in &branch.items {
                if let rsops::tree::MapItem::Entry { value, .. } = item {
                    let _ = store.emit_value(value);
                }
            }
        }
    }
    if let Ok((doc, Some(meta))) = store.load_encrypted(data) {
        if let Ok(m) = rsops::stores::metadata_wire::from_node(&meta) {
            let _ = store.emit_encrypted(doc, rsops::stores::metadata_wire::to_node(&m));
        }
    }
}
