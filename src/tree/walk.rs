//! The one walk over a document's leaves, in sops's order, with sops's "encrypt this?" verdict.
//!
//! Encryption, decryption and the MAC are visitors of this walk, so the order in which leaves are
//! hashed and the additional data each one is sealed with are defined here and nowhere else.

use super::{Document, ListItem, Map, MapItem, Node, Scalar};
use regex::Regex;
use std::ops::Range;

/// The partial-encryption rule of a file. sops allows at most one; none means the default
/// `_unencrypted` suffix.
#[derive(Clone, Debug)]
pub enum Selector {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
    UnencryptedCommentRegex(Regex),
    EncryptedCommentRegex(Regex),
}

impl Default for Selector {
    fn default() -> Self {
        Selector::UnencryptedSuffix("_unencrypted".to_string())
    }
}

impl Selector {
    fn key_matches(&self, key: &str) -> bool {
        match self {
            Selector::UnencryptedSuffix(s) | Selector::EncryptedSuffix(s) => {
                key.ends_with(s.as_str())
            }
            Selector::UnencryptedRegex(r) | Selector::EncryptedRegex(r) => r.is_match(key),
            _ => false,
        }
    }

    fn uses_comments(&self) -> bool {
        matches!(
            self,
            Selector::UnencryptedCommentRegex(_) | Selector::EncryptedCommentRegex(_)
        )
    }

    /// The verdict for one leaf. `path_matched` says whether any ancestor key matched a
    /// suffix/regex rule; `comments` is the stack of active comments, one level per container.
    fn should_encrypt(
        &self,
        path_matched: bool,
        comments: &[Vec<String>],
        is_comment: bool,
    ) -> bool {
        match self {
            Selector::UnencryptedSuffix(_) | Selector::UnencryptedRegex(_) => !path_matched,
            Selector::EncryptedSuffix(_) | Selector::EncryptedRegex(_) => path_matched,
            Selector::UnencryptedCommentRegex(r) => {
                !comments.iter().flatten().any(|c| r.is_match(c))
            }
            Selector::EncryptedCommentRegex(r) => {
                // A comment that matches is the marker itself and stays plain; it only turns on
                // encryption for what follows it.
                let last_level = comments.len().saturating_sub(1);
                comments.iter().enumerate().any(|(level, cs)| {
                    cs.iter().enumerate().any(|(j, c)| {
                        let is_self = is_comment && level == last_level && j + 1 == cs.len();
                        !is_self && r.is_match(c)
                    })
                })
            }
        }
    }
}

/// What the walk tells a visitor about one leaf.
pub struct Leaf<'a> {
    /// sops's additional data: the map keys of the path joined with `:`, plus a trailing `:`.
    pub aad: &'a str,
    pub encrypt: bool,
    /// True for comment items (map comments and list comments), which are never hashed.
    pub is_comment: bool,
    /// True for items of a list: an encrypted list comment becomes a list string, as in sops.
    pub in_list: bool,
}

/// A leaf handed to a visitor and taken back from it.
pub enum LeafMut {
    Scalar(Scalar),
    Comment(String),
}

impl LeafMut {
    /// Zeroes the leaf's text in place, for plaintext a visitor replaces.
    pub fn wipe(&mut self) {
        match self {
            LeafMut::Scalar(s) => s.wipe(),
            LeafMut::Comment(c) => zeroize::Zeroize::zeroize(c),
        }
    }
}

/// Where a leaf lives in the tree.
enum Slot<'t> {
    MapValue(&'t mut Scalar),
    MapComment(&'t mut String),
    /// A list's non-null scalar or comment: the item itself, as a visitor may turn one into
    /// the other.
    ListItem(&'t mut ListItem),
}

/// One leaf of a document, found by [`Leaves::collect`]: its verdict, its additional data and a
/// handle to take it out of the tree and put its replacement back.
pub struct LeafSlot<'t> {
    slot: Slot<'t>,
    aad: Range<usize>,
    encrypt: bool,
    is_comment: bool,
    in_list: bool,
}

impl LeafSlot<'_> {
    /// Moves the leaf out, leaving a null (or an empty comment) behind until [`Self::put`].
    pub fn take(&mut self) -> LeafMut {
        match &mut self.slot {
            Slot::MapValue(scalar) => LeafMut::Scalar(std::mem::replace(*scalar, Scalar::Null)),
            Slot::MapComment(text) => LeafMut::Comment(std::mem::take(*text)),
            Slot::ListItem(item) => match &mut **item {
                ListItem::Comment(text) => LeafMut::Comment(std::mem::take(text)),
                ListItem::Value(Node::Scalar(scalar)) => {
                    LeafMut::Scalar(std::mem::replace(scalar, Scalar::Null))
                }
                // Never collected: lists only hand out scalars and comments.
                ListItem::Value(_) => LeafMut::Scalar(Scalar::Null),
            },
        }
    }

    /// Puts a leaf's replacement where the leaf was. A list comment turned into a string (as
    /// sops does when it encrypts one) becomes a list value, and a list string decrypted to a
    /// comment becomes a comment again.
    pub fn put(&mut self, value: LeafMut) {
        match (&mut self.slot, value) {
            (Slot::MapValue(scalar), LeafMut::Scalar(s)) => **scalar = s,
            // A map value that decrypts to a comment has no comment slot to go to.
            (Slot::MapValue(scalar), LeafMut::Comment(c)) => **scalar = Scalar::Str(c),
            (Slot::MapComment(text), LeafMut::Comment(c) | LeafMut::Scalar(Scalar::Str(c))) => {
                **text = c
            }
            (Slot::MapComment(text), LeafMut::Scalar(_)) => **text = String::new(),
            (Slot::ListItem(item), LeafMut::Comment(c)) => **item = ListItem::Comment(c),
            (Slot::ListItem(item), LeafMut::Scalar(s)) => **item = ListItem::Value(Node::Scalar(s)),
        }
    }

    /// The walk's facts about this leaf, with its additional data `aad`.
    pub fn describe<'a>(&self, aad: &'a str) -> Leaf<'a> {
        Leaf {
            aad,
            encrypt: self.encrypt,
            is_comment: self.is_comment,
            in_list: self.in_list,
        }
    }

    /// This leaf's additional data, for a leaf collected into `leaves_aads` ([`Leaves::aads`]).
    pub fn collected_aad<'a>(&self, leaves_aads: &'a str) -> &'a str {
        &leaves_aads[self.aad.clone()]
    }
}

/// Every leaf of a document in sops's order, each with its verdict. Verdicts and additional
/// data are fixed when the leaves are collected, before any visitor changes a value, which is
/// also what a one-at-a-time walk sees: a comment counts for the rules as it was read.
/// Holding mutable handles into the tree, the list can be cut into chunks for threads.
pub struct Leaves<'t> {
    pub slots: Vec<LeafSlot<'t>>,
    /// The additional data of all leaves, one after the other; each slot has its range.
    pub aads: String,
}

impl<'t> Leaves<'t> {
    pub fn collect(doc: &'t mut Document, selector: &Selector) -> Leaves<'t> {
        let mut leaves = Leaves {
            slots: Vec::new(),
            aads: String::new(),
        };
        let collected: Result<(), std::convert::Infallible> =
            for_each_leaf(doc, selector, |mut slot, aad| {
                let start = leaves.aads.len();
                leaves.aads.push_str(aad);
                slot.aad = start..leaves.aads.len();
                leaves.slots.push(slot);
                Ok(())
            });
        match collected {
            Ok(()) => leaves,
            Err(never) => match never {},
        }
    }
}

/// Visits every leaf of every branch in document order. The visitor gets the leaf by value and
/// returns what replaces it (see [`LeafSlot::put`]).
pub fn walk_leaves_mut<E, F>(doc: &mut Document, selector: &Selector, mut visit: F) -> Result<(), E>
where
    F: FnMut(&Leaf, LeafMut) -> Result<LeafMut, E>,
{
    for_each_leaf(doc, selector, |mut slot, aad| {
        let value = slot.take();
        let out = visit(&slot.describe(aad), value)?;
        slot.put(out);
        Ok(())
    })
}

/// The one traversal: hands every leaf, in order and with its verdict and additional data, to
/// `sink`, and stops at the first error it returns.
pub fn for_each_leaf<'t, E, S>(doc: &'t mut Document, selector: &Selector, sink: S) -> Result<(), E>
where
    S: FnMut(LeafSlot<'t>, &str) -> Result<(), E>,
{
    let mut traversal = Traversal {
        selector,
        aad: String::new(),
        comments: Vec::new(),
        sink,
        _sink_types: std::marker::PhantomData,
    };
    for branch in &mut doc.branches {
        traversal.map(branch, false)?;
    }
    Ok(())
}

struct Traversal<'s, 't, E, S> {
    selector: &'s Selector,
    aad: String,
    comments: Vec<Vec<String>>,
    sink: S,
    _sink_types: std::marker::PhantomData<fn(LeafSlot<'t>) -> E>,
}

impl<'t, E, S> Traversal<'_, 't, E, S>
where
    S: FnMut(LeafSlot<'t>, &str) -> Result<(), E>,
{
    fn leaf(
        &mut self,
        slot: Slot<'t>,
        path_matched: bool,
        in_list: bool,
        is_comment: bool,
    ) -> Result<(), E> {
        let encrypt = self
            .selector
            .should_encrypt(path_matched, &self.comments, is_comment);
        let aad = if self.aad.is_empty() { ":" } else { &self.aad };
        let slot = LeafSlot {
            slot,
            aad: 0..0,
            encrypt,
            is_comment,
            in_list,
        };
        (self.sink)(slot, aad)
    }

    fn note_comment(&mut self, text: &str) {
        if self.selector.uses_comments() {
            if let Some(level) = self.comments.last_mut() {
                level.push(text.to_string());
            }
        }
    }

    fn clear_comments(&mut self) {
        if let Some(level) = self.comments.last_mut() {
            level.clear();
        }
    }

    fn map(&mut self, map: &'t mut Map, path_matched: bool) -> Result<(), E> {
        self.comments.push(Vec::new());
        for item in &mut map.items {
            match item {
                MapItem::Comment(text) => {
                    self.note_comment(text);
                    self.leaf(Slot::MapComment(text), path_matched, false, true)?;
                }
                MapItem::Entry { key, value } => {
                    let saved = self.aad.len();
                    self.aad.push_str(key);
                    self.aad.push(':');
                    let matched = path_matched || self.selector.key_matches(key);
                    let result = self.node(value, matched);
                    self.aad.truncate(saved);
                    result?;
                    self.clear_comments();
                }
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn list(&mut self, items: &'t mut [ListItem], path_matched: bool) -> Result<(), E> {
        self.comments.push(Vec::new());
        for item in items.iter_mut() {
            match item {
                ListItem::Comment(text) => {
                    self.note_comment(text);
                    self.leaf(Slot::ListItem(item), path_matched, true, true)?;
                }
                ListItem::Value(Node::Scalar(Scalar::Null)) => self.clear_comments(),
                ListItem::Value(Node::Scalar(_)) => {
                    self.leaf(Slot::ListItem(item), path_matched, true, false)?;
                    self.clear_comments();
                }
                ListItem::Value(node) => {
                    self.node(node, path_matched)?;
                    self.clear_comments();
                }
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn node(&mut self, node: &'t mut Node, path_matched: bool) -> Result<(), E> {
        match node {
            Node::Map(map) => self.map(map, path_matched),
            Node::List(items) => self.list(items, path_matched),
            Node::Scalar(Scalar::Null) => Ok(()),
            Node::Scalar(scalar) => self.leaf(Slot::MapValue(scalar), path_matched, false, false),
        }
    }
}
