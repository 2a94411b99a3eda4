//! The git merge driver's three-way tree merge and the masked diff view, on up to three YAML
//! documents split at NUL bytes (base, ours, theirs): never a panic, and a side that changed
//! nothing always yields the other side, cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops::git::merge::{self, Same};
use rsops::git::masked;
use rsops::stores::{store_for, Format, StoreOptions};

fuzz_target!(|data: &[u8]| {
    let yaml = store_for(Format::Yaml, StoreOptions::default());
    let mut docs = data.splitn(3, |b| *b == 0).filter_map(|part| yaml.load_plain(part).ok());
    let (Some(base), Some(ours)) = (docs.next(), docs.next()) else {
        return;
    };
    let theirs = docs.next().unwrap_or_else(|| base.clone());
    let merged = merge::merge(&base, &ours, &theirs);
    if merged.is_clean() {
        let _ = yaml.emit_plain(&merged.doc);
    }
    let only_ours = merge::merge(&base, &ours, &base);
    assert!(only_ours.is_clean() && only_ours.doc.same(&ours));
    let mut view = ours.clone();
    masked::mask(&mut view);
    let _ = yaml.emit_plain(&view);
});
