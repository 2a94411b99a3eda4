//! A three-way merge of plaintext documents, key by key. Knows no formats and no keys: the caller
//! decrypts base, ours and theirs, and encrypts the result.
//!
//! The rule at every key is git's: a side that left the value as it was in the base takes the
//! other side's value; both sides making the same change is no conflict; anything else is one.
//! Mappings are merged key by key, recursively. Lists are merged element by element only when
//! the base and both sides have the same length and the same shape (no element was added,
//! removed or moved, so positions mean the same thing on all three); otherwise a list changed on
//! both sides is one conflict. Comments travel with the key that follows them and are merged by
//! the same rule.

use crate::tree::{Document, ListItem, Map, MapItem, Node, Scalar};

/// Deeper nesting than this is reported as a conflict instead of being walked: stores already
/// limit depth, this keeps the merge's own recursion bounded for any caller.
const MAX_DEPTH: usize = 256;

/// The outcome of a merge. `doc` is always complete (a conflicting key keeps ours's value), so it
/// is wiped like any document when dropped; it is only to be used when `conflicts` is empty.
pub struct Merged {
    pub doc: Document,
    /// The paths of conflicting values, spelled as sops's `--extract` paths (`["a"]["b"][0]`).
    /// Key names only: never a value.
    pub conflicts: Vec<String>,
}

impl Merged {
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// Merges `ours` and `theirs`, which both descend from `base`.
pub fn merge(base: &Document, ours: &Document, theirs: &Document) -> Merged {
    if let Ok(Some(winner)) = pick(Some(base), Some(ours), Some(theirs)) {
        return Merged {
            doc: winner.clone(),
            conflicts: Vec::new(),
        };
    }
    let mut conflicts = Vec::new();
    let same_shape =
        base.branches.len() == ours.branches.len() && ours.branches.len() == theirs.branches.len();
    if !same_shape {
        return take_ours_with_conflict(ours, "(number of documents)".into());
    }
    let branches = ours
        .branches
        .iter()
        .zip(&base.branches)
        .zip(&theirs.branches)
        .enumerate()
        .map(|(i, ((o, b), t))| {
            let mut walk = Walk {
                path: doc_prefix(i, ours.branches.len()),
                depth: 0,
                conflicts: &mut conflicts,
            };
            walk.map(Some(b), o, t)
        })
        .collect();
    Merged {
        doc: Document { branches },
        conflicts,
    }
}

fn take_ours_with_conflict(ours: &Document, what: String) -> Merged {
    Merged {
        doc: ours.clone(),
        conflicts: vec![what],
    }
}

/// Multi-document files name the document first, so the paths of two documents differ.
fn doc_prefix(index: usize, count: usize) -> String {
    if count > 1 {
        format!("(document {})", index + 1)
    } else {
        String::new()
    }
}

/// A key with the comments written just above it; `key` is `None` for comments at the end.
struct Slot<'a> {
    key: Option<&'a str>,
    comments: Vec<&'a str>,
    value: Option<&'a Node>,
}

/// A map as slots, or `None` when a key appears twice (then "the key's value" means nothing).
fn slots(map: &Map) -> Option<Vec<Slot<'_>>> {
    let mut out: Vec<Slot> = Vec::new();
    let mut comments = Vec::new();
    for item in &map.items {
        match item {
            MapItem::Comment(c) => comments.push(c.as_str()),
            MapItem::Entry { key, value } => {
                if out.iter().any(|s| s.key == Some(key.as_str())) {
                    return None;
                }
                out.push(Slot {
                    key: Some(key),
                    comments: std::mem::take(&mut comments),
                    value: Some(value),
                });
            }
        }
    }
    if !comments.is_empty() {
        out.push(Slot {
            key: None,
            comments,
            value: None,
        });
    }
    Some(out)
}

fn find<'s, 'a>(slots: &'s [Slot<'a>], key: Option<&str>) -> Option<&'s Slot<'a>> {
    slots.iter().find(|s| s.key == key)
}

/// The three-way rule on any comparable thing: `Ok(winner)` or `Err(())` for a conflict.
fn pick<'a, T: Same + ?Sized>(
    base: Option<&'a T>,
    ours: Option<&'a T>,
    theirs: Option<&'a T>,
) -> Result<Option<&'a T>, ()> {
    if same(ours, theirs) || same(theirs, base) {
        Ok(ours)
    } else if same(ours, base) {
        Ok(theirs)
    } else {
        Err(())
    }
}

fn same<T: Same + ?Sized>(a: Option<&T>, b: Option<&T>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.same(b),
        (None, None) => true,
        _ => false,
    }
}

/// Equality for the merge: `==`, except that a float is the same as itself even when it is NaN
/// (`.nan` in YAML), so an untouched NaN is never a change.
pub trait Same {
    fn same(&self, other: &Self) -> bool;
}

impl Same for Document {
    fn same(&self, other: &Self) -> bool {
        self.branches.len() == other.branches.len()
            && self
                .branches
                .iter()
                .zip(&other.branches)
                .all(|(a, b)| a.same(b))
    }
}

impl Same for Map {
    fn same(&self, other: &Self) -> bool {
        self.items.len() == other.items.len()
            && self.items.iter().zip(&other.items).all(|pair| match pair {
                (MapItem::Entry { key: ka, value: va }, MapItem::Entry { key: kb, value: vb }) => {
                    ka == kb && va.same(vb)
                }
                (MapItem::Comment(a), MapItem::Comment(b)) => a == b,
                _ => false,
            })
    }
}

impl Same for Node {
    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Node::Map(a), Node::Map(b)) => a.same(b),
            (Node::List(a), Node::List(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b).all(|pair| match pair {
                        (ListItem::Value(a), ListItem::Value(b)) => a.same(b),
                        (ListItem::Comment(a), ListItem::Comment(b)) => a == b,
                        _ => false,
                    })
            }
            (Node::Scalar(Scalar::Float(a)), Node::Scalar(Scalar::Float(b))) => {
                a.to_bits() == b.to_bits()
            }
            (Node::Scalar(a), Node::Scalar(b)) => a == b,
            _ => false,
        }
    }
}

impl Same for [&str] {
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

impl Same for String {
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

struct Walk<'c> {
    path: String,
    depth: usize,
    conflicts: &'c mut Vec<String>,
}

impl Walk<'_> {
    fn conflict(&mut self, suffix: &str) {
        let path = format!("{}{suffix}", self.path);
        self.conflicts.push(if path.is_empty() {
            "(top level)".to_string()
        } else {
            path
        });
    }

    fn child<R>(&mut self, component: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        let saved = self.path.len();
        self.path.push_str(component);
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        self.path.truncate(saved);
        out
    }

    fn map(&mut self, base: Option<&Map>, ours: &Map, theirs: &Map) -> Map {
        if self.depth > MAX_DEPTH {
            self.conflict(" (nested too deeply to merge)");
            return ours.clone();
        }
        // Also keeps one side's reordering when the other side left the map alone.
        if let Ok(Some(winner)) = pick(base, Some(ours), Some(theirs)) {
            return winner.clone();
        }
        let empty = Map::new();
        let (Some(b), Some(o), Some(t)) =
            (slots(base.unwrap_or(&empty)), slots(ours), slots(theirs))
        else {
            self.conflict(" (a key appears twice)");
            return ours.clone();
        };
        let mut out = Map::new();
        for key in merged_key_order(&b, &o, &t) {
            let (bs, os, ts) = (find(&b, key), find(&o, key), find(&t, key));
            let component = key.map(key_component).unwrap_or_default();
            self.child(&component, |walk| walk.slot(key, bs, os, ts, &mut out));
        }
        out
    }

    /// Merges one key (its comments, then its value) into `out`.
    fn slot<'a>(
        &mut self,
        key: Option<&str>,
        b: Option<&Slot<'a>>,
        o: Option<&Slot<'a>>,
        t: Option<&Slot<'a>>,
        out: &mut Map,
    ) {
        let comments = |s: Option<&Slot<'a>>| s.map(|s| s.comments.clone());
        let (bc, oc, tc) = (comments(b), comments(o), comments(t));
        let chosen = match pick(bc.as_deref(), oc.as_deref(), tc.as_deref()) {
            Ok(c) => c.unwrap_or_default().to_vec(),
            Err(()) => {
                self.conflict(if key.is_some() {
                    " (comment above)"
                } else {
                    "(comments at the end)"
                });
                oc.unwrap_or_default()
            }
        };
        let value = match key {
            Some(_) => self.value(
                b.and_then(|s| s.value),
                o.and_then(|s| s.value),
                t.and_then(|s| s.value),
            ),
            None => None,
        };
        // A deleted key takes its comments with it.
        if key.is_some() && value.is_none() {
            return;
        }
        out.items
            .extend(chosen.into_iter().map(|c| MapItem::Comment(c.to_string())));
        if let (Some(key), Some(value)) = (key, value) {
            out.push(key, value);
        }
    }

    /// The merged value of one key; `None` when the merge deletes it.
    fn value(&mut self, b: Option<&Node>, o: Option<&Node>, t: Option<&Node>) -> Option<Node> {
        if let Ok(winner) = pick(b, o, t) {
            return winner.cloned();
        }
        match (b, o, t) {
            (b, Some(Node::Map(om)), Some(Node::Map(tm))) => {
                let bm = match b {
                    Some(Node::Map(bm)) => Some(bm),
                    None => None,
                    Some(_) => {
                        self.conflict("");
                        return o.cloned();
                    }
                };
                Some(Node::Map(self.map(bm, om, tm)))
            }
            (Some(Node::List(bl)), Some(Node::List(ol)), Some(Node::List(tl)))
                if same_list_shape(bl, ol) && same_list_shape(bl, tl) =>
            {
                Some(Node::List(self.list(bl, ol, tl)))
            }
            _ => {
                self.conflict("");
                o.cloned()
            }
        }
    }

    fn list(&mut self, base: &[ListItem], ours: &[ListItem], theirs: &[ListItem]) -> Vec<ListItem> {
        let mut out = Vec::with_capacity(ours.len());
        for (i, ((b, o), t)) in base.iter().zip(ours).zip(theirs).enumerate() {
            let merged = self.child(&format!("[{i}]"), |walk| match (b, o, t) {
                (ListItem::Value(b), ListItem::Value(o), ListItem::Value(t)) => {
                    let value = walk.value(Some(b), Some(o), Some(t));
                    ListItem::Value(value.unwrap_or_else(|| o.clone()))
                }
                (ListItem::Comment(b), ListItem::Comment(o), ListItem::Comment(t)) => {
                    match pick(Some(b), Some(o), Some(t)) {
                        Ok(c) => ListItem::Comment(c.unwrap_or(o).clone()),
                        Err(()) => {
                            walk.conflict(" (comment)");
                            ListItem::Comment(o.clone())
                        }
                    }
                }
                _ => unreachable!("same_list_shape checked the item kinds"),
            });
            out.push(merged);
        }
        out
    }
}

/// Whether two lists line up position by position: same length, comments at the same places.
fn same_list_shape(a: &[ListItem], b: &[ListItem]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            matches!(
                (x, y),
                (ListItem::Value(_), ListItem::Value(_))
                    | (ListItem::Comment(_), ListItem::Comment(_))
            )
        })
}

/// `["key"]`, as in sops's `--extract` paths.
fn key_component(key: &str) -> String {
    format!("[\"{key}\"]")
}

/// Ours's keys in ours's order; a key only theirs added goes right after the key it follows in
/// theirs (or first); the end-of-map comments stay last.
fn merged_key_order<'a>(
    base: &[Slot<'a>],
    ours: &[Slot<'a>],
    theirs: &[Slot<'a>],
) -> Vec<Option<&'a str>> {
    let mut order: Vec<Option<&'a str>> = ours
        .iter()
        .filter(|s| s.key.is_some())
        .map(|s| s.key)
        .collect();
    let mut after: Option<&'a str> = None;
    for slot in theirs.iter().filter(|s| s.key.is_some()) {
        let key = slot.key;
        let known = order.contains(&key) || find(base, key).is_some();
        if !known {
            let at = after
                .and_then(|a| order.iter().position(|k| *k == Some(a)))
                .map_or(0, |p| p + 1);
            order.insert(at, key);
        }
        if order.contains(&key) {
            after = key;
        }
    }
    for slot in base.iter().filter(|s| s.key.is_some()) {
        // Deleted on one side, still to be decided (a change on the other is a conflict).
        if !order.contains(&slot.key) {
            order.push(slot.key);
        }
    }
    if [base, ours, theirs].iter().any(|s| find(s, None).is_some()) {
        order.push(None);
    }
    order
}

#[cfg(test)]
mod tests;
