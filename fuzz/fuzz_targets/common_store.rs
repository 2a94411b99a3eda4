// Shared by the store targets (included with `include!`, so each target stays one file).
use rsops::stores::{store_for, Format, StoreOptions};

/// Output that sops 3.11.0 writes byte for byte the same and then cannot read back either, so
/// rsops keeps it (identical output is the contract): yaml.v3's block scalars with an explicit
/// indentation indicator (`|4`) inside nested blocks; and for INI anything, because go-ini's
/// writer is not the inverse of its reader (values it wraps in `"""`, keys starting with `[`
/// written unquoted — both found here and checked against the real sops).
fn sops_cannot_either(format: Format, out: &[u8]) -> bool {
    match format {
        Format::Yaml => has_indentation_indicator(out),
        Format::Ini => true,
        _ => false,
    }
}

fn has_indentation_indicator(out: &[u8]) -> bool {
    String::from_utf8_lossy(out).lines().any(|line| {
        let t = line.trim_end();
        let t = t.strip_suffix(['-', '+']).unwrap_or(t);
        let b = t.as_bytes();
        b.len() >= 2 && b[b.len() - 2] == b'|' && b[b.len() - 1].is_ascii_digit()
    })
}

/// Loading never panics; a loaded plaintext document can be written back out, and what a store
/// writes it can read again (the emitters are the loaders' inverse on the tree level).
fn exercise_store(format: Format, data: &[u8]) {
    let store = store_for(format, StoreOptions::default());
    if let Ok(doc) = store.load_plain(data) {
        let _ = store.has_metadata(&doc);
        if let Ok(out) = store.emit_plain(&doc) {
            if let Err(e) = store.load_plain(&out) {
                assert!(
                    sops_cannot_either(format, &out),
                    "the store cannot read back what it wrote: {e}"
                );
            }
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
        let _ = store.emit_encrypted(doc, &meta);
    }
}
