//! Encrypting and decrypting a whole document: the walk's two visitors, each computing the MAC.

use super::cipher::{plaintext_of, Cipher, CryptoError, IvStash};
use super::mac::Mac;
use crate::tree::{walk_leaves_mut, Document, LeafMut, Scalar, Selector};
use zeroize::Zeroizing;

/// How a document's values are protected: the partial-encryption rule and the MAC mode.
pub struct Protection<'a> {
    pub selector: &'a Selector,
    pub mac_only_encrypted: bool,
}

/// The outcome of decrypting a document.
pub struct Decrypted {
    /// The MAC recomputed over the plaintext, to compare with the stored one.
    pub mac: String,
    /// Comments that were not encrypted although the rules say they should be (files from old
    /// sops versions); kept verbatim, as sops does.
    pub plain_comments: usize,
}

/// Encrypts every leaf the rules select, in place, and returns the MAC over the plaintext.
pub fn encrypt_document(
    doc: &mut Document,
    cipher: &Cipher,
    protection: &Protection,
    stash: Option<&IvStash>,
) -> Result<String, CryptoError> {
    let mut mac = Mac::new(protection.mac_only_encrypted);
    let unencrypted_comment_regex = match protection.selector {
        Selector::UnencryptedCommentRegex(r) => Some(r),
        _ => None,
    };
    // Work buffers reused for every value; they hold plaintext, so they are zeroed on drop.
    let mut scratch = Zeroizing::new(Vec::new());
    let mut buffer = Zeroizing::new(Vec::new());
    walk_leaves_mut(doc, protection.selector, |leaf, value| {
        let (plaintext, value_type) = plaintext_of(&value, leaf.aad, &mut scratch)?;
        if !leaf.is_comment {
            mac.add(plaintext, leaf.encrypt);
        }
        if !leaf.encrypt {
            return Ok(value);
        }
        let was_comment = leaf.is_comment;
        let sealed = cipher.seal_plaintext(plaintext, value_type, leaf.aad, stash, &mut buffer);
        if was_comment {
            if let Some(r) = unencrypted_comment_regex {
                if r.is_match(&sealed) {
                    return Err(CryptoError::Unencryptable {
                        path: leaf.aad.to_string(),
                        kind: "comment whose ciphertext matches unencrypted_comment_regex; choose a regex that cannot match ENC[…] text",
                    });
                }
            }
        }
        // A map comment stays a comment; a list comment becomes a string, as in sops.
        Ok(if was_comment && !leaf.in_list {
            LeafMut::Comment(sealed)
        } else {
            LeafMut::Scalar(Scalar::Str(sealed))
        })
    })?;
    Ok(mac.finish_hex())
}

/// Decrypts every leaf the rules select, in place, and returns the MAC over the plaintext.
pub fn decrypt_document(
    doc: &mut Document,
    cipher: &Cipher,
    protection: &Protection,
    stash: Option<&IvStash>,
) -> Result<Decrypted, CryptoError> {
    let mut mac = Mac::new(protection.mac_only_encrypted);
    let mut plain_comments = 0;
    let mut scratch = Zeroizing::new(Vec::new());
    walk_leaves_mut(doc, protection.selector, |leaf, value| {
        let out = if !leaf.encrypt {
            value
        } else {
            match value {
                LeafMut::Comment(text) => match cipher.decrypt_leaf(&text, leaf.aad, stash) {
                    Ok(LeafMut::Comment(c)) => LeafMut::Comment(c),
                    Ok(LeafMut::Scalar(Scalar::Str(s))) => LeafMut::Comment(s),
                    Ok(_) | Err(_) => {
                        plain_comments += 1;
                        LeafMut::Comment(text)
                    }
                },
                LeafMut::Scalar(Scalar::Str(text)) => {
                    cipher.decrypt_owned(text, leaf.aad, stash)?
                }
                LeafMut::Scalar(_) => {
                    return Err(CryptoError::Malformed {
                        path: leaf.aad.trim_end_matches(':').to_string(),
                        source: super::enc_value::EncValueError::NotEncrypted,
                    })
                }
            }
        };
        // Whether a leaf is a comment is judged after decryption: list comments are stored as
        // strings of type `comment` and must not be hashed (sops #2243).
        if let LeafMut::Scalar(_) = &out {
            mac.add(plaintext_of(&out, leaf.aad, &mut scratch)?.0, leaf.encrypt);
        }
        Ok(out)
    })?;
    Ok(Decrypted {
        mac: mac.finish_hex(),
        plain_comments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::DataKey;
    use crate::tree::{ListItem, Map, MapItem, Node};
    use proptest::prelude::*;

    fn scalar() -> impl Strategy<Value = Scalar> {
        prop_oneof![
            Just(Scalar::Null),
            any::<bool>().prop_map(Scalar::Bool),
            any::<i64>().prop_map(Scalar::Int),
            (-1e15f64..1e15).prop_map(Scalar::Float),
            "[a-zA-Z0-9 äöü🙂:_-]{0,12}".prop_map(Scalar::Str),
        ]
    }

    fn node() -> impl Strategy<Value = Node> {
        scalar()
            .prop_map(Node::Scalar)
            .prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    proptest::collection::vec(("[a-z_]{1,8}", inner.clone()), 0..5).prop_map(
                        |entries| {
                            Node::Map(Map {
                                items: entries
                                    .into_iter()
                                    .map(|(key, value)| MapItem::Entry { key, value })
                                    .collect(),
                            })
                        }
                    ),
                    proptest::collection::vec(
                        prop_oneof![
                            inner.prop_map(ListItem::Value),
                            "[ a-z]{1,8}".prop_map(ListItem::Comment)
                        ],
                        0..5
                    )
                    .prop_map(Node::List),
                ]
            })
    }

    fn document() -> impl Strategy<Value = Document> {
        proptest::collection::vec(
            prop_oneof![
                ("[a-z_]{1,8}", node()).prop_map(|(key, value)| MapItem::Entry { key, value }),
                "[ a-z]{0,8}".prop_map(MapItem::Comment),
            ],
            0..6,
        )
        .prop_map(|items| Document::single(Map { items }))
    }

    proptest! {
        #[test]
        fn decrypt_inverts_encrypt_and_macs_agree(doc in document(), mac_only in any::<bool>()) {
            let key = DataKey::generate();
            let cipher = Cipher::new(&key);
            let selector = Selector::default();
            let protection = Protection { selector: &selector, mac_only_encrypted: mac_only };
            let mut work = doc.clone();
            let sealed_mac = encrypt_document(&mut work, &cipher, &protection, None).unwrap();
            let opened = decrypt_document(&mut work, &cipher, &protection, None).unwrap();
            prop_assert_eq!(sealed_mac, opened.mac);
            prop_assert!(work == doc);
        }
    }

    #[test]
    fn keys_under_unencrypted_suffix_stay_plain_but_count_in_the_mac() {
        let mut map = Map::new();
        map.push("a_unencrypted", Node::str("visible"));
        map.push("b", Node::str("hidden"));
        let mut doc = Document::single(map);
        let key = DataKey::generate();
        let cipher = Cipher::new(&key);
        let selector = Selector::default();
        let protection = Protection {
            selector: &selector,
            mac_only_encrypted: false,
        };
        let mac = encrypt_document(&mut doc, &cipher, &protection, None).unwrap();
        assert_eq!(
            doc.branches[0].get("a_unencrypted").unwrap().as_str(),
            Some("visible")
        );
        assert!(doc.branches[0]
            .get("b")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("ENC[AES256_GCM,"));
        let mut expected = crate::crypto::Mac::new(false);
        expected.add(b"visible", false);
        expected.add(b"hidden", true);
        assert_eq!(mac, expected.finish_hex());
    }
}
