//! Wall time of each phase of an encrypt and a decrypt, in-process, for one plaintext file:
//! `cargo run --release --example phases -- FILE [yaml|json]`. A quick profile companion to
//! the criterion benches (which repeat each phase many times).

#[path = "../benches/support/floor.rs"]
mod floor;

use rsops::crypto::{decrypt_document, encrypt_document, Cipher, DataKey, Protection};
use rsops::stores::{store_for, Format, StoreOptions};
use rsops::tree::Selector;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: phases FILE [yaml|json]");
    let format = args
        .next()
        .and_then(|f| Format::from_name(&f))
        .unwrap_or_else(|| Format::from_path(path.as_ref()));
    let bytes = std::fs::read(&path).expect("read input");
    let store = store_for(format, StoreOptions::default());
    let key = DataKey::from_slice(&[7u8; 32]).expect("32 bytes");
    let cipher = Cipher::new(&key);
    let selector = Selector::default();
    let protection = Protection {
        selector: &selector,
        mac_only_encrypted: false,
    };
    let lap = |name: &str, t: Instant| {
        eprintln!("{name:>16}: {:8.1} ms", t.elapsed().as_secs_f64() * 1e3)
    };

    let t = Instant::now();
    let mut doc = store.load_plain(&bytes).expect("parse");
    lap("parse plain", t);
    let t = Instant::now();
    encrypt_document(&mut doc, &cipher, &protection, None).expect("encrypt");
    lap("encrypt walk", t);
    let t = Instant::now();
    let enc = store
        .emit_encrypted(doc, &placeholder_metadata())
        .expect("emit");
    lap("emit encrypted", t);
    let t = Instant::now();
    let (mut doc, _) = store.load_encrypted(&enc).expect("parse encrypted");
    lap("parse encrypted", t);
    let t = Instant::now();
    decrypt_document(&mut doc, &cipher, &protection, None).expect("decrypt");
    lap("decrypt walk", t);
    let t = Instant::now();
    let plain = store.emit_plain(&doc).expect("emit plain");
    lap("emit plain", t);
    let t = Instant::now();
    drop(doc);
    lap("drop", t);
    let t = Instant::now();
    let (floor_doc, _) = floor::floor(store.as_ref(), &enc, key.as_bytes());
    lap("floor (decrypt)", t);
    drop(floor_doc);
    eprintln!(
        "{} bytes in, {} encrypted, {} out",
        bytes.len(),
        enc.len(),
        plain.len()
    );
}

/// Metadata every store accepts; nothing here ever unwraps its key.
fn placeholder_metadata() -> rsops::metadata::Metadata {
    use rsops::metadata::{AgeStanza, KeyGroup, KeyStanza, Metadata, WRITTEN_VERSION};
    Metadata {
        key_groups: vec![KeyGroup {
            keys: vec![KeyStanza::Age(AgeStanza {
                recipient: "age1placeholder".to_string(),
                enc: "placeholder".to_string(),
            })],
        }],
        last_modified: "2024-01-01T00:00:00Z".to_string(),
        version: WRITTEN_VERSION.to_string(),
        ..Metadata::default()
    }
}
