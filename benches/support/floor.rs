//! The floor a decrypt is measured against (BENCHMARKS.md): the same file parsed, and every
//! value base64-decoded and opened with AES-GCM, and nothing more.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use rsops::tree::{walk_leaves_mut, LeafMut, Scalar, Selector};

/// The least any tool must do to decrypt the file: parse it, and base64-decode and AES-GCM
/// open each value. No MAC, no typing of values, no output.
/// The document is handed back so that dropping it is not part of the floor.
pub fn floor(
    store: &dyn rsops::stores::Store,
    encrypted: &[u8],
    key: &[u8; 32],
) -> (rsops::tree::Document, usize) {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let aead = AesGcm::<Aes256, U32>::new(key.into());
    let (mut doc, _) = store.load_encrypted(encrypted).expect("parses");
    let mut data = Vec::new();
    let mut opened = 0;
    walk_leaves_mut(&mut doc, &Selector::default(), |leaf, value| {
        if let LeafMut::Scalar(Scalar::Str(s)) = &value {
            let mut fields = s[20..s.len() - 1].split(',');
            let mut field = |name: &str| &fields.next().expect("field")[name.len()..];
            let (mut iv, mut tag) = ([0u8; 48], [0u8; 48]);
            data.clear();
            STANDARD.decode_vec(field(""), &mut data).expect("data");
            STANDARD.decode_slice(field("iv:"), &mut iv).expect("iv");
            STANDARD.decode_slice(field("tag:"), &mut tag).expect("tag");
            aead.decrypt_in_place_detached(
                Nonce::<U32>::from_slice(&iv[..32]),
                leaf.aad.as_bytes(),
                &mut data,
                aes_gcm::Tag::from_slice(&tag[..16]),
            )
            .expect("authenticates");
            opened += 1;
        }
        Ok::<_, ()>(value)
    })
    .expect("walks");
    (doc, opened)
}
