//! `.sops.yaml`: parsing, picking a creation rule for a few file names, and the store options it
//! sets being usable for output.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops::config::ConfigFile;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = ConfigFile::parse(Path::new("/repo/.sops.yaml"), data) else {
        return;
    };
    for file in [
        "/repo/secrets/app.yaml",
        "/repo/x.env",
        "/elsewhere/y.json",
        "/repo/",
    ] {
        let _ = config.rule_for(Path::new(file));
    }
    let store = rsops::stores::store_for(rsops::stores::Format::Yaml, config.stores);
    let doc = store
        .load_plain(b"a:\n  b: [1, {c: d}]\n")
        .expect("fixed document");
    let _ = store.emit_plain(&doc);
    let json = rsops::stores::store_for(rsops::stores::Format::Json, config.stores);
    let _ = json.emit_plain(&doc);
});
