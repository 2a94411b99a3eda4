//! Inputs shared by the benches: generated documents and their encrypted forms.

#![allow(dead_code)]

pub mod floor;
pub mod gen;

use rsops::crypto::{encrypt_document, Cipher, DataKey, Protection};
use rsops::stores::{store_for, Format, StoreOptions};
use rsops::tree::Selector;

/// Leaf counts to bench: `RSOPS_BENCH_LEAVES=1000,100000` (default 1000 and 100000).
pub fn sizes() -> Vec<usize> {
    std::env::var("RSOPS_BENCH_LEAVES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1_000, 100_000])
}

pub fn key() -> DataKey {
    DataKey::from_slice(&[7u8; 32]).expect("32 bytes")
}

pub fn formats() -> [(Format, gen::Format); 2] {
    [
        (Format::Yaml, gen::Format::Yaml),
        (Format::Json, gen::Format::Json),
    ]
}

/// A generated plaintext file and the same file encrypted (stand-in metadata, fixed key).
pub struct Input {
    pub plain: Vec<u8>,
    pub encrypted: Vec<u8>,
}

pub fn input(format: Format, gen_format: gen::Format, leaves: usize) -> Input {
    encrypted_input(format, gen::generate(gen_format, leaves, 1).into_bytes())
}

/// A YAML input written the way real files are (comments, anchors, block scalars).
pub fn shaped_input(shape: gen::Shape, leaves: usize) -> Input {
    encrypted_input(
        Format::Yaml,
        gen::generate_shaped(shape, leaves, 1).into_bytes(),
    )
}

fn encrypted_input(format: Format, plain: Vec<u8>) -> Input {
    let store = store_for(format, StoreOptions::default());
    let mut doc = store.load_plain(&plain).expect("generated input parses");
    let selector = Selector::default();
    let protection = Protection {
        selector: &selector,
        mac_only_encrypted: false,
    };
    encrypt_document(&mut doc, &Cipher::new(&key()), &protection, None).expect("encrypts");
    let encrypted = store
        .emit_encrypted(doc, &placeholder_metadata())
        .expect("emits");
    Input { plain, encrypted }
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
