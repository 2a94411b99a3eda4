//! The `--extract`/`set`/`unset` path syntax, and lookups/edits with it on a small document.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops::stores::{store_for, Format, StoreOptions};
use rsops::tree::path::{lookup, parse_tree_path, set, unset};
use rsops::tree::{Node, Scalar};

const DOC: &str = "a:\n  b: [1, 2, {c: d}]\n  # note\n  e: f\nlist:\n  - x\n  - [y, z]\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(path) = parse_tree_path(text) else {
        return;
    };
    let yaml = store_for(Format::Yaml, StoreOptions::default());
    let mut doc = yaml.load_plain(DOC.as_bytes()).expect("fixed document");
    let root = &mut doc.branches[0];
    let _ = lookup(root, &path);
    let mut edited = root.clone();
    if set(&mut edited, &path, Node::Scalar(Scalar::Str("v".into()))) {
        let _ = lookup(&edited, &path);
    }
    let _ = unset(root, &path);
    let _ = yaml.emit_plain(&doc);
});
