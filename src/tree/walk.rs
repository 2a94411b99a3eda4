//! The one walk over a document's leaves, in sops's order, with sops's "encrypt this?" verdict.
//!
//! Encryption, decryption and the MAC are visitors of this walk, so the order in which leaves are
//! hashed and the additional data each one is sealed with are defined here and nowhere else.

use super::{Document, ListItem, Map, MapItem, Node, Scalar};
use regex::Regex;

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

struct Walker<'s, F> {
    selector: &'s Selector,
    aad: String,
    comments: Vec<Vec<String>>,
    visit: F,
}

/// Visits every leaf of every branch in document order. The visitor gets the leaf by value and
/// returns what replaces it; a list comment turned into a string (as sops does when it encrypts
/// one) becomes a list value, and a list string decrypted to a comment becomes a comment again.
pub fn walk_leaves_mut<E, F>(doc: &mut Document, selector: &Selector, visit: F) -> Result<(), E>
where
    F: FnMut(&Leaf, LeafMut) -> Result<LeafMut, E>,
{
    let mut walker = Walker {
        selector,
        aad: String::new(),
        comments: Vec::new(),
        visit,
    };
    for branch in &mut doc.branches {
        walker.map(branch, false)?;
    }
    Ok(())
}

impl<'s, E, F> Walker<'s, F>
where
    F: FnMut(&Leaf, LeafMut) -> Result<LeafMut, E>,
{
    fn leaf(&mut self, path_matched: bool, in_list: bool, value: LeafMut) -> Result<LeafMut, E> {
        let is_comment = matches!(value, LeafMut::Comment(_));
        let encrypt = self
            .selector
            .should_encrypt(path_matched, &self.comments, is_comment);
        let aad = if self.aad.is_empty() { ":" } else { &self.aad };
        let leaf = Leaf {
            aad,
            encrypt,
            is_comment,
            in_list,
        };
        (self.visit)(&leaf, value)
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

    fn map(&mut self, map: &mut Map, path_matched: bool) -> Result<(), E> {
        self.comments.push(Vec::new());
        for item in &mut map.items {
            match item {
                MapItem::Comment(text) => {
                    self.note_comment(text);
                    let taken = std::mem::take(text);
                    *text = match self.leaf(path_matched, false, LeafMut::Comment(taken))? {
                        LeafMut::Comment(c) => c,
                        LeafMut::Scalar(Scalar::Str(s)) => s,
                        LeafMut::Scalar(_) => String::new(),
                    };
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

    fn list(&mut self, items: &mut [ListItem], path_matched: bool) -> Result<(), E> {
        self.comments.push(Vec::new());
        for item in items.iter_mut() {
            match item {
                ListItem::Comment(text) => {
                    self.note_comment(text);
                    let taken = std::mem::take(text);
                    let out = self.leaf(path_matched, true, LeafMut::Comment(taken))?;
                    *item = leaf_to_list_item(out);
                }
                ListItem::Value(Node::Scalar(scalar)) => {
                    if !matches!(scalar, Scalar::Null) {
                        let taken = std::mem::replace(scalar, Scalar::Null);
                        let out = self.leaf(path_matched, true, LeafMut::Scalar(taken))?;
                        *item = leaf_to_list_item(out);
                    }
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

    fn node(&mut self, node: &mut Node, path_matched: bool) -> Result<(), E> {
        match node {
            Node::Map(map) => self.map(map, path_matched),
            Node::List(items) => self.list(items, path_matched),
            Node::Scalar(Scalar::Null) => Ok(()),
            Node::Scalar(scalar) => {
                let taken = std::mem::replace(scalar, Scalar::Null);
                match self.leaf(path_matched, false, LeafMut::Scalar(taken))? {
                    LeafMut::Scalar(s) => *scalar = s,
                    // A map value that decrypts to a comment has no comment slot to go to.
                    LeafMut::Comment(c) => *scalar = Scalar::Str(c),
                }
                Ok(())
            }
        }
    }
}

fn leaf_to_list_item(out: LeafMut) -> ListItem {
    match out {
        LeafMut::Comment(c) => ListItem::Comment(c),
        LeafMut::Scalar(s) => ListItem::Value(Node::Scalar(s)),
    }
}
