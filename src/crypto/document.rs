//! Encrypting and decrypting a whole document: the leaves are collected in sops's order, sealed
//! or opened (on several threads for big documents), and hashed into the MAC in that order.

use super::cipher::{plaintext_of, Cipher, CryptoError, IvStash};
use super::enc_value::EncValueError;
use super::mac::Mac;
use crate::tree::{for_each_leaf, Document, LeafMut, LeafSlot, Leaves, Scalar, Selector};
use std::sync::atomic::{AtomicUsize, Ordering};
use zeroize::Zeroizing;

/// Below this many leaves per thread a thread costs more than it saves.
const MIN_LEAVES_PER_THREAD: usize = 4096;
/// Beyond this, more threads mostly add memory traffic.
const MAX_THREADS: usize = 8;

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
    let threads = thread_count(doc);
    encrypt_on_threads(doc, cipher, protection, stash, threads)
}

fn encrypt_on_threads(
    doc: &mut Document,
    cipher: &Cipher,
    protection: &Protection,
    stash: Option<&IvStash>,
    threads: usize,
) -> Result<String, CryptoError> {
    let unencrypted_comment_regex = match protection.selector {
        Selector::UnencryptedCommentRegex(r) => Some(r),
        _ => None,
    };
    process(doc, protection, threads, || {
        // Work buffers reused for every value; they hold plaintext, so they are zeroed on drop.
        let mut scratch = Zeroizing::new(Vec::new());
        let mut buffer = Zeroizing::new(Vec::new());
        move |slot: &mut LeafSlot, aad: &str, mac: &mut MacFeed| {
            let leaf = slot.describe(aad);
            let mut value = slot.take();
            let (plaintext, value_type) = match plaintext_of(&value, aad, &mut scratch) {
                Ok(found) => found,
                Err(e) => {
                    slot.put(value);
                    return Err(e);
                }
            };
            if !leaf.is_comment {
                mac.add(plaintext, leaf.encrypt);
            }
            if !leaf.encrypt {
                slot.put(value);
                return Ok(());
            }
            let sealed = cipher.seal_plaintext(plaintext, value_type, aad, stash, &mut buffer);
            value.wipe();
            if let (true, Some(r)) = (leaf.is_comment, unencrypted_comment_regex) {
                if r.is_match(&sealed) {
                    return Err(CryptoError::Unencryptable {
                        path: aad.to_string(),
                        kind: "comment whose ciphertext matches unencrypted_comment_regex; choose a regex that cannot match ENC[…] text",
                    });
                }
            }
            // A map comment stays a comment; a list comment becomes a string, as in sops.
            slot.put(if leaf.is_comment && !leaf.in_list {
                LeafMut::Comment(sealed)
            } else {
                LeafMut::Scalar(Scalar::Str(sealed))
            });
            Ok(())
        }
    })
}

/// Decrypts every leaf the rules select, in place, and returns the MAC over the plaintext.
pub fn decrypt_document(
    doc: &mut Document,
    cipher: &Cipher,
    protection: &Protection,
    stash: Option<&IvStash>,
) -> Result<Decrypted, CryptoError> {
    let threads = thread_count(doc);
    decrypt_on_threads(doc, cipher, protection, stash, threads)
}

fn decrypt_on_threads(
    doc: &mut Document,
    cipher: &Cipher,
    protection: &Protection,
    stash: Option<&IvStash>,
    threads: usize,
) -> Result<Decrypted, CryptoError> {
    let plain_comments = AtomicUsize::new(0);
    let plain_comments_seen = &plain_comments;
    let mac = process(doc, protection, threads, || {
        let mut scratch = Zeroizing::new(Vec::new());
        move |slot: &mut LeafSlot, aad: &str, mac: &mut MacFeed| {
            let leaf = slot.describe(aad);
            let value = slot.take();
            let out = if !leaf.encrypt {
                value
            } else {
                match value {
                    LeafMut::Comment(text) => decrypt_comment(cipher, text, aad, stash)
                        .unwrap_or_else(|text| {
                            plain_comments_seen.fetch_add(1, Ordering::Relaxed);
                            LeafMut::Comment(text)
                        }),
                    LeafMut::Scalar(Scalar::Str(text)) => cipher.decrypt_owned(text, aad, stash)?,
                    LeafMut::Scalar(_) => {
                        return Err(CryptoError::Malformed {
                            path: aad.trim_end_matches(':').to_string(),
                            source: EncValueError::NotEncrypted,
                        })
                    }
                }
            };
            // Whether a leaf is a comment is judged after decryption: list comments are stored
            // as strings of type `comment` and must not be hashed (sops #2243).
            if let LeafMut::Scalar(_) = &out {
                mac.add(plaintext_of(&out, aad, &mut scratch)?.0, leaf.encrypt);
            }
            slot.put(out);
            Ok(())
        }
    })?;
    Ok(Decrypted {
        mac,
        plain_comments: plain_comments.into_inner(),
    })
}

/// A map comment's plaintext, or the comment back when it does not decrypt (files from old
/// sops versions left comments plain, and sops keeps them as they are).
fn decrypt_comment(
    cipher: &Cipher,
    text: String,
    aad: &str,
    stash: Option<&IvStash>,
) -> Result<LeafMut, String> {
    match cipher.decrypt_leaf(&text, aad, stash) {
        Ok(LeafMut::Comment(c)) => Ok(LeafMut::Comment(c)),
        Ok(LeafMut::Scalar(Scalar::Str(s))) => Ok(LeafMut::Comment(s)),
        Ok(_) | Err(_) => Err(text),
    }
}

/// Threads for a document: one per core (as the cgroup quota allows) up to [`MAX_THREADS`],
/// each with at least [`MIN_LEAVES_PER_THREAD`] leaves. `RSOPS_THREADS` caps it (`1` turns
/// threading off), for pipelines that share their cores. Leaves are counted only as far as
/// the most threads could use.
fn thread_count(doc: &Document) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cap = std::env::var("RSOPS_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(MAX_THREADS);
    let most = cores.min(MAX_THREADS).min(cap);
    if most <= 1 {
        return 1;
    }
    let leaves = doc.leaf_count_up_to(most * MIN_LEAVES_PER_THREAD);
    (leaves / MIN_LEAVES_PER_THREAD).clamp(1, most)
}

/// What a chunk's work hashes: the MAC itself on one thread; on several, the bytes to hash, in
/// order, so the chunks' contributions can be fed to the one MAC in walk order afterwards.
enum MacFeed<'m> {
    Direct(&'m mut Mac),
    Recorded {
        bytes: Zeroizing<Vec<u8>>,
        only_encrypted: bool,
    },
}

impl MacFeed<'_> {
    fn add(&mut self, plaintext: &[u8], encrypted: bool) {
        match self {
            MacFeed::Direct(mac) => mac.add(plaintext, encrypted),
            MacFeed::Recorded {
                bytes,
                only_encrypted,
            } => {
                if encrypted || !*only_encrypted {
                    bytes.extend_from_slice(plaintext);
                }
            }
        }
    }
}

/// Runs the work of `new_worker` on every leaf and returns the MAC in hex. With more than one
/// thread the leaves are cut into contiguous runs, one per thread, each with its own worker; the bytes each
/// run hashes are recorded and fed to the one MAC in walk order afterwards. The error is the
/// one of the earliest failing leaf in walk order, as a one-thread walk reports it.
fn process<N, W>(
    doc: &mut Document,
    protection: &Protection,
    threads: usize,
    new_worker: N,
) -> Result<String, CryptoError>
where
    N: Fn() -> W + Sync,
    W: FnMut(&mut LeafSlot, &str, &mut MacFeed) -> Result<(), CryptoError>,
{
    let mut mac = Mac::new(protection.mac_only_encrypted);
    if threads <= 1 {
        let mut work = new_worker();
        let mut feed = MacFeed::Direct(&mut mac);
        for_each_leaf(doc, protection.selector, |mut slot, aad| {
            work(&mut slot, aad, &mut feed)
        })?;
        return Ok(mac.finish_hex());
    }
    let mut leaves = Leaves::collect(doc, protection.selector);
    let aads = leaves.aads.as_str();
    let run_len = leaves.slots.len().div_ceil(threads).max(1);
    let run_on = |run: &mut [LeafSlot]| -> Result<MacFeed, CryptoError> {
        let mut work = new_worker();
        let mut feed = MacFeed::Recorded {
            bytes: Zeroizing::new(Vec::new()),
            only_encrypted: protection.mac_only_encrypted,
        };
        for slot in run {
            let aad = slot.collected_aad(aads);
            work(slot, aad, &mut feed)?;
        }
        Ok(feed)
    };
    let run_on = &run_on;
    // `None` for a run whose thread could not be started (a process or cgroup thread limit):
    // it is done here afterwards, so a limit costs time, never the result.
    let fed: Vec<Option<Result<MacFeed, CryptoError>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = leaves
            .slots
            .chunks_mut(run_len)
            .map(|run| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, move || run_on(run))
                    .ok()
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
            })
            .collect()
    });
    for (i, run) in fed.into_iter().enumerate() {
        let run = match run {
            Some(done) => done,
            None => {
                let end = ((i + 1) * run_len).min(leaves.slots.len());
                run_on(&mut leaves.slots[i * run_len..end])
            }
        };
        if let MacFeed::Recorded { bytes, .. } = run? {
            mac.add(&bytes, true);
        }
    }
    Ok(mac.finish_hex())
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

        /// Threads change where the work runs, never the result: the same MAC (it is over the
        /// plaintext) and the same plaintext back, for every rule, including the comment ones.
        #[test]
        fn threads_do_not_change_results(
            doc in document(),
            mac_only in any::<bool>(),
            rule in 0..4usize,
            seal_threads in 1..5usize,
            open_threads in 1..5usize,
        ) {
            let key = DataKey::generate();
            let cipher = Cipher::new(&key);
            let selector = match rule {
                0 => Selector::default(),
                1 => Selector::EncryptedRegex(regex::Regex::new("^[a-m]").unwrap()),
                2 => Selector::UnencryptedCommentRegex(regex::Regex::new("^ [a-h]").unwrap()),
                _ => Selector::EncryptedCommentRegex(regex::Regex::new("^ [i-z]").unwrap()),
            };
            let protection = Protection { selector: &selector, mac_only_encrypted: mac_only };
            let mut one = doc.clone();
            let mut many = doc.clone();
            let mac_one = encrypt_on_threads(&mut one, &cipher, &protection, None, 1).unwrap();
            let mac_many =
                encrypt_on_threads(&mut many, &cipher, &protection, None, seal_threads).unwrap();
            prop_assert_eq!(mac_one, mac_many);
            let mut reference = many.clone();
            let opened = decrypt_on_threads(&mut many, &cipher, &protection, None, open_threads).unwrap();
            let expected = decrypt_on_threads(&mut reference, &cipher, &protection, None, 1).unwrap();
            prop_assert_eq!(opened.mac, expected.mac);
            prop_assert!(many == reference);
            // With the comment rules an encrypted list comment is a string in the file, which
            // ends the comment's effect on decryption (in sops as well): no round trip there.
            if rule < 2 {
                prop_assert!(many == doc);
            }
        }
    }

    /// On threads, the error reported is still the one of the first bad leaf in walk order.
    #[test]
    fn first_bad_leaf_in_walk_order_is_reported_on_threads() {
        let mut map = Map::new();
        for i in 0..40 {
            map.push(format!("k{i:02}"), Node::str(format!("value {i}")));
        }
        let mut doc = Document::single(map);
        let key = DataKey::generate();
        let cipher = Cipher::new(&key);
        let selector = Selector::default();
        let protection = Protection {
            selector: &selector,
            mac_only_encrypted: false,
        };
        encrypt_on_threads(&mut doc, &cipher, &protection, None, 1).unwrap();
        let items = &mut doc.branches[0].items;
        // Leaf 7 moved under another key (fails to authenticate), leaf 31 plain.
        let moved = match &items[8] {
            MapItem::Entry { value, .. } => value.clone(),
            MapItem::Comment(_) => unreachable!(),
        };
        if let MapItem::Entry { value, .. } = &mut items[7] {
            *value = moved;
        }
        if let MapItem::Entry { value, .. } = &mut items[31] {
            *value = Node::Scalar(Scalar::Int(3));
        }
        for threads in 1..6 {
            let mut attempt = doc.clone();
            let err = decrypt_on_threads(&mut attempt, &cipher, &protection, None, threads)
                .err()
                .expect("tampered document must not decrypt");
            assert!(
                matches!(&err, CryptoError::Authentication { path } if path == "k07"),
                "{threads} threads: {err}"
            );
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
