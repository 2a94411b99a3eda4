//! The toml store's loaders (plaintext and encrypted) on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

include!("common_store.rs");

fuzz_target!(|data: &[u8]| exercise_store(Format::Toml, data));
