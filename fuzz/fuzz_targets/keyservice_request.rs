//! A key service request off the wire (prost decodes it, rsops maps the key): whatever a client
//! sends, the mapping never panics, and a key that maps to a spec maps back to the same key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use prost::Message;
use rsops::keys::remote::convert::{key_of_spec, spec_of_key, stanza_of};
use rsops::keys::remote::proto::{DecryptRequest, EncryptRequest};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = DecryptRequest::decode(data) {
        check(request.key.as_ref(), &request.ciphertext);
    }
    if let Ok(request) = EncryptRequest::decode(data) {
        check(request.key.as_ref(), &[]);
    }
});

fn check(key: Option<&rsops::keys::remote::proto::Key>, ciphertext: &[u8]) {
    let Ok(spec) = spec_of_key(key) else {
        return;
    };
    let enc = String::from_utf8_lossy(ciphertext).into_owned();
    if let Ok(stanza) = stanza_of(&spec, enc) {
        let _ = stanza.identity();
    }
    let again = spec_of_key(Some(&key_of_spec(&spec))).expect("a mapped key maps again");
    let _ = again.identity();
}
