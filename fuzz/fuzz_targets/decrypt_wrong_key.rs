//! Decrypting a hostile or mismatched encrypted file: the data key recovery with an age identity
//! the file was not made for, and every value opened under a wrong data key. Must fail cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops::file::{EncryptedFile, MacCheck};
use rsops::keys::age::AgeIdentities;
use rsops::keys::discovery::Env;
use rsops::keys::KeyUnwrapper;
use rsops::stores::{store_for, Format, StoreOptions};

/// keys/age2.txt (test-only, public): the seeds are encrypted for age1, so this key is wrong.
const WRONG_IDENTITY: &str =
    "AGE-SECRET-KEY-1DEN538RR86P9AR2F2S7Z6F4HWJ7ZCFYRJUD0MEH08MFMHU8H3LKQ06LLVL";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let format = [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini][selector as usize % 4];
    let store = store_for(format, StoreOptions::default());
    let Ok(file) = EncryptedFile::load(store.as_ref(), bytes) else {
        return;
    };
    let age = AgeIdentities::with_env(Env::from_pairs([("SOPS_AGE_KEY", WRONG_IDENTITY)]));
    let unwrappers: [&dyn KeyUnwrapper; 1] = [&age];
    let meta = file.meta.clone();
    let result = EncryptedFile {
        doc: file.doc.clone(),
        meta: file.meta,
    }
    .decrypt(&rsops::keys::Unwrappers(&unwrappers), &[], MacCheck::Verify);
    assert!(result.is_err(), "decrypted with the wrong identity");
    // Past key recovery: every value under a data key that is not the file's.
    let key = rsops::crypto::DataKey::from_slice(&[0x42; 32]).expect("32 bytes");
    if let Ok(selector) = meta.rule.selector() {
        let cipher = rsops::crypto::Cipher::new(&key);
        let protection = rsops::crypto::Protection {
            selector: &selector,
            mac_only_encrypted: meta.mac_only_encrypted,
        };
        let mut doc = file.doc;
        let _ = rsops::crypto::decrypt_document(&mut doc, &cipher, &protection, None);
    }
});
