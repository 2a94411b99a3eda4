//! The `ENC[AES256_GCM,…]` codec: parsing never panics, printing round-trips, and opening a
//! value under a fixed data key fails cleanly (or succeeds) for any input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops::crypto::{Cipher, DataKey, EncValue};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = EncValue::looks_encrypted(text);
    if let Ok(value) = EncValue::parse(text) {
        let printed = value.to_string_form();
        let again = EncValue::parse(&printed).expect("a printed value parses again");
        assert!(again == value, "ENC round trip changed the value");
    }
    let key = DataKey::from_slice(&[7u8; 32]).expect("32 bytes");
    let cipher = Cipher::new(&key);
    let _ = cipher.decrypt_leaf(text, "fuzz:", None);
});
