//! The document model shared by every format, and the one walker over it.
//!
//! Knows nothing of files, formats or keys: stores build a [`Document`], crypto visits its leaves.

pub mod path;
mod walk;

pub use walk::{for_each_leaf, walk_leaves_mut, Leaf, LeafMut, LeafSlot, Leaves, Selector};

use zeroize::Zeroize;

/// A whole file: one branch per YAML document (every other format has exactly one).
#[derive(Clone, Default, PartialEq)]
pub struct Document {
    pub branches: Vec<Map>,
}

/// An ordered mapping; comments are items of their own, as in sops.
#[derive(Clone, Default, PartialEq)]
pub struct Map {
    pub items: Vec<MapItem>,
}

#[derive(Clone, PartialEq)]
pub enum MapItem {
    Entry {
        key: String,
        value: Node,
    },
    /// The comment text after `#` (or `;` in INI), leading space kept.
    Comment(String),
}

#[derive(Clone, PartialEq)]
pub enum ListItem {
    Value(Node),
    Comment(String),
}

#[derive(Clone, PartialEq)]
pub enum Node {
    Map(Map),
    List(Vec<ListItem>),
    Scalar(Scalar),
}

/// A leaf value, typed the way sops types it (the type decides the `type:` tag and the MAC bytes).
#[derive(Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Bytes that need not be UTF-8: the binary store's payload, and values of sops type `bytes`.
    Bytes(Vec<u8>),
    /// A YAML timestamp, held as Go's RFC 3339 (nano) text, which is also its plaintext in sops.
    Time(String),
}

impl Document {
    pub fn single(map: Map) -> Self {
        Document {
            branches: vec![map],
        }
    }

    /// Wipes the tree and leaves its memory to the end of the process. For one-shot commands:
    /// freeing a million-leaf tree piece by piece costs a tenth of a decrypt, and the memory
    /// goes back to the system at exit anyway.
    pub fn wipe_and_leak(mut self) {
        self.wipe();
        std::mem::forget(self);
    }

    /// How many scalars and comments the tree holds, counting no further than `cap`: an upper
    /// bound of the leaves a walk visits, found without building the walk's paths, and cheap on
    /// a big tree when only "at least this many" matters.
    pub fn leaf_count_up_to(&self, cap: usize) -> usize {
        let mut count = 0;
        for branch in &self.branches {
            branch.count_leaves(&mut count, cap);
        }
        count.min(cap)
    }

    /// Zeroes every string and byte buffer in the tree; called on drop of plaintext documents.
    pub fn wipe(&mut self) {
        for branch in &mut self.branches {
            branch.wipe();
        }
    }
}

impl Drop for Document {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl Map {
    pub fn new() -> Self {
        Map { items: Vec::new() }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.items.iter().find_map(|item| match item {
            MapItem::Entry { key: k, value } if k == key => Some(value),
            _ => None,
        })
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.items.iter_mut().find_map(|item| match item {
            MapItem::Entry { key: k, value } if k == key => Some(value),
            _ => None,
        })
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Removes every entry named `key`, returning the first one's value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let mut removed = None;
        let mut kept = Vec::with_capacity(self.items.len());
        for item in std::mem::take(&mut self.items) {
            match item {
                MapItem::Entry { key: k, value } if k == key => {
                    if removed.is_none() {
                        removed = Some(value);
                    }
                }
                other => kept.push(other),
            }
        }
        self.items = kept;
        removed
    }

    pub fn push(&mut self, key: impl Into<String>, value: Node) {
        self.items.push(MapItem::Entry {
            key: key.into(),
            value,
        });
    }

    /// Sets `key` in place if present, else appends it.
    pub fn insert(&mut self, key: &str, value: Node) {
        match self.get_mut(key) {
            Some(slot) => *slot = value,
            None => self.push(key, value),
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.items.iter().filter_map(|item| match item {
            MapItem::Entry { key, value } => Some((key.as_str(), value)),
            MapItem::Comment(_) => None,
        })
    }

    fn count_leaves(&self, count: &mut usize, cap: usize) {
        for item in &self.items {
            if *count >= cap {
                return;
            }
            match item {
                MapItem::Entry { value, .. } => value.count_leaves(count, cap),
                MapItem::Comment(_) => *count += 1,
            }
        }
    }

    fn wipe(&mut self) {
        for item in &mut self.items {
            match item {
                MapItem::Entry { key, value } => {
                    key.zeroize();
                    value.wipe();
                }
                MapItem::Comment(text) => text.zeroize(),
            }
        }
    }
}

impl Node {
    pub fn str(s: impl Into<String>) -> Node {
        Node::Scalar(Scalar::Str(s.into()))
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Node::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    fn count_leaves(&self, count: &mut usize, cap: usize) {
        match self {
            Node::Map(map) => map.count_leaves(count, cap),
            Node::List(items) => {
                for item in items {
                    if *count >= cap {
                        return;
                    }
                    match item {
                        ListItem::Value(node) => node.count_leaves(count, cap),
                        ListItem::Comment(_) => *count += 1,
                    }
                }
            }
            Node::Scalar(_) => *count += 1,
        }
    }

    fn wipe(&mut self) {
        match self {
            Node::Map(map) => map.wipe(),
            Node::List(items) => {
                for item in items {
                    match item {
                        ListItem::Value(node) => node.wipe(),
                        ListItem::Comment(text) => text.zeroize(),
                    }
                }
            }
            Node::Scalar(scalar) => scalar.wipe(),
        }
    }
}

impl Scalar {
    /// Zeroes the value's text or bytes in place; for plaintext that leaves the tree.
    pub fn wipe(&mut self) {
        match self {
            Scalar::Str(s) | Scalar::Time(s) => s.zeroize(),
            Scalar::Bytes(b) => b.zeroize(),
            Scalar::Int(i) => *i = 0,
            Scalar::Float(f) => *f = 0.0,
            Scalar::Bool(b) => *b = false,
            Scalar::Null => {}
        }
    }
}

/// Deliberately opaque: a document may hold plaintext, and `Debug` output ends up in logs.
impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Document({} branches, contents redacted)",
            self.branches.len()
        )
    }
}

impl std::fmt::Debug for Map {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Map({} items, contents redacted)", self.items.len())
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Map(m) => m.fmt(f),
            Node::List(items) => write!(f, "List({} items, contents redacted)", items.len()),
            Node::Scalar(_) => f.write_str("Scalar(redacted)"),
        }
    }
}

impl std::fmt::Debug for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "bool",
            Scalar::Int(_) => "int",
            Scalar::Float(_) => "float",
            Scalar::Str(_) => "str",
            Scalar::Bytes(_) => "bytes",
            Scalar::Time(_) => "time",
        };
        write!(f, "Scalar::{kind}(redacted)")
    }
}

impl std::fmt::Debug for MapItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MapItem::Entry { value, .. } => write!(f, "Entry(redacted key, {value:?})"),
            MapItem::Comment(_) => f.write_str("Comment(redacted)"),
        }
    }
}

impl std::fmt::Debug for ListItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListItem::Value(value) => value.fmt(f),
            ListItem::Comment(_) => f.write_str("Comment(redacted)"),
        }
    }
}
