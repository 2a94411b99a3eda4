//! The `sops` metadata block: any tree in its place (through the JSON store, which every other
//! format's tree shape is a subset of) and any flattened `sops_*` key list (dotenv/INI).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops::stores::{flatten, metadata_wire, store_for, Format, StoreOptions};

fuzz_target!(|data: &[u8]| {
    let json = store_for(Format::Json, StoreOptions::default());
    if let Ok((_, Some(meta))) = json.load_encrypted(data) {
        check_node(&metadata_wire::to_node(&meta));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let pairs: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Ok(node) = flatten::unflatten(pairs) {
            check_node(&node);
            let _ = flatten::flatten(&node);
        }
    }
});

/// A block that parses is written back to the same metadata.
fn check_node(node: &rsops::tree::Node) {
    if let Ok(meta) = metadata_wire::from_node(node) {
        let _ = meta.rule.selector();
        let again = metadata_wire::from_node(&metadata_wire::to_node(&meta))
            .expect("written metadata reads back");
        assert!(again == meta, "metadata round trip changed it");
    }
}
