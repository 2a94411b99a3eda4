//! sops's tree-path syntax for `--extract` and `set`: `["key"][0]['other']`.

use super::{ListItem, Map, MapItem, Node};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathComponent {
    Key(String),
    /// Counts comment items too, as sops does.
    Index(usize),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// sops's words, which scripts match.
    #[error("component {0} doesn't end with ]")]
    Unterminated(String),
    #[error("component `{0}` is neither a quoted key nor a number")]
    NotANumber(String),
    /// sops drops the last byte as the closing quote; here that byte is inside a character.
    #[error("component `{0}` is a quoted key without a closing quote")]
    UnclosedQuote(String),
}

/// Splits on `[`; each part must end with `]`; quoted parts are keys (no escapes), others indexes.
pub fn parse_tree_path(text: &str) -> Result<Vec<PathComponent>, PathError> {
    let mut path = Vec::new();
    for part in text.split('[').filter(|p| !p.is_empty()) {
        let inner = part
            .strip_suffix(']')
            .ok_or_else(|| PathError::Unterminated(part.to_string()))?;
        if inner.starts_with(['"', '\'']) {
            let key = if inner.len() >= 2 {
                inner
                    .get(1..inner.len() - 1)
                    .ok_or_else(|| PathError::UnclosedQuote(part.to_string()))?
            } else {
                ""
            };
            path.push(PathComponent::Key(key.to_string()));
        } else {
            let index = inner
                .parse::<usize>()
                .map_err(|_| PathError::NotANumber(inner.to_string()))?;
            path.push(PathComponent::Index(index));
        }
    }
    Ok(path)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("component ['{0}'] not found")]
    KeyNotFound(String),
    #[error("component [{0}] is an index, but that part of the tree is not a list")]
    NotAList(usize),
    #[error("component [{0}] is out of bounds")]
    OutOfBounds(usize),
    #[error("component ['{0}'] is a key, but that part of the tree is not a mapping")]
    NotAMap(String),
}

/// What a path points at. The root of a document is a bare mapping, not a [`Node`].
pub enum Found<'a> {
    Map(&'a Map),
    Node(&'a Node),
    Comment(&'a str),
}

impl<'a> Found<'a> {
    fn of(node: &'a Node) -> Found<'a> {
        match node {
            Node::Map(m) => Found::Map(m),
            other => Found::Node(other),
        }
    }
}

pub fn lookup<'a>(root: &'a Map, path: &[PathComponent]) -> Result<Found<'a>, LookupError> {
    let mut current = Found::Map(root);
    for component in path {
        current = match (current, component) {
            (Found::Map(map), PathComponent::Key(key)) => map
                .items
                .iter()
                .find_map(|item| match item {
                    MapItem::Entry { key: k, value } if k == key => Some(Found::of(value)),
                    _ => None,
                })
                .ok_or_else(|| LookupError::KeyNotFound(key.clone()))?,
            (Found::Node(Node::List(items)), PathComponent::Index(i)) => match items.get(*i) {
                Some(ListItem::Value(v)) => Found::of(v),
                Some(ListItem::Comment(c)) => Found::Comment(c),
                None => return Err(LookupError::OutOfBounds(*i)),
            },
            (_, PathComponent::Index(i)) => return Err(LookupError::NotAList(*i)),
            (_, PathComponent::Key(k)) => return Err(LookupError::NotAMap(k.clone())),
        };
    }
    Ok(current)
}

/// Builds the nested value a path describes around a leaf (sops's `valueFromPathAndLeaf`).
fn build(path: &[PathComponent], value: Node) -> Node {
    match path.split_first() {
        None => value,
        Some((PathComponent::Key(k), rest)) => {
            let mut map = Map::new();
            map.push(k.clone(), build(rest, value));
            Node::Map(map)
        }
        Some((PathComponent::Index(_), rest)) => {
            Node::List(vec![ListItem::Value(build(rest, value))])
        }
    }
}

fn set_in_map(map: &mut Map, path: &[PathComponent], value: Node) -> bool {
    let (first, rest) = path.split_first().expect("set paths are never empty");
    let PathComponent::Key(key) = first else {
        // An index into a mapping: sops replaces the mapping with a new list.
        return false;
    };
    if let Some(slot) = map.get_mut(key) {
        return if rest.is_empty() {
            let changed = *slot != value;
            *slot = value;
            changed
        } else {
            set_in_node(slot, rest, value)
        };
    }
    map.push(key.clone(), build(rest, value));
    true
}

fn set_in_node(node: &mut Node, path: &[PathComponent], value: Node) -> bool {
    match (node, &path[0]) {
        (Node::Map(map), PathComponent::Key(_)) => set_in_map(map, path, value),
        (Node::List(items), PathComponent::Index(i)) => {
            let rest = &path[1..];
            match items.get_mut(*i) {
                None => {
                    items.push(ListItem::Value(build(rest, value)));
                    true
                }
                Some(item) if rest.is_empty() => {
                    let new = ListItem::Value(value);
                    let changed = *item != new;
                    *item = new;
                    changed
                }
                Some(ListItem::Value(child)) => set_in_node(child, rest, value),
                Some(comment) => {
                    *comment = ListItem::Value(build(rest, value));
                    true
                }
            }
        }
        (other, _) => {
            let new = build(path, value);
            let changed = *other != new;
            *other = new;
            changed
        }
    }
}

/// Sets the value at `path`, creating missing keys; an index past the end appends. Returns
/// whether anything changed (for `set --idempotent`).
pub fn set(root: &mut Map, path: &[PathComponent], value: Node) -> bool {
    if path.is_empty() {
        return false;
    }
    if let PathComponent::Index(_) = path[0] {
        return false;
    }
    set_in_map(root, path, value)
}

fn unset_in_map(map: &mut Map, path: &[PathComponent]) -> Result<(), LookupError> {
    let (first, rest) = path.split_first().expect("unset paths are never empty");
    let key = match first {
        PathComponent::Key(k) => k,
        PathComponent::Index(i) => return Err(LookupError::NotAList(*i)),
    };
    let at = map
        .items
        .iter()
        .position(|item| matches!(item, MapItem::Entry { key: k, .. } if k == key))
        .ok_or_else(|| LookupError::KeyNotFound(key.clone()))?;
    if rest.is_empty() {
        map.items.remove(at);
        return Ok(());
    }
    match &mut map.items[at] {
        MapItem::Entry { value, .. } => unset_in_node(value, rest),
        MapItem::Comment(_) => unreachable!("position() matched an entry"),
    }
}

fn unset_in_node(node: &mut Node, path: &[PathComponent]) -> Result<(), LookupError> {
    match (node, &path[0]) {
        (Node::Map(map), _) => unset_in_map(map, path),
        (Node::List(items), PathComponent::Index(i)) => {
            if *i >= items.len() {
                return Err(LookupError::OutOfBounds(*i));
            }
            if path.len() == 1 {
                items.remove(*i);
                return Ok(());
            }
            match &mut items[*i] {
                ListItem::Value(child) => unset_in_node(child, &path[1..]),
                ListItem::Comment(_) => Err(LookupError::NotAMap(format!("{i}"))),
            }
        }
        (_, PathComponent::Index(i)) => Err(LookupError::NotAList(*i)),
        (_, PathComponent::Key(k)) => Err(LookupError::NotAMap(k.clone())),
    }
}

/// Removes the value at `path`.
pub fn unset(root: &mut Map, path: &[PathComponent]) -> Result<(), LookupError> {
    if path.is_empty() {
        return Ok(());
    }
    unset_in_map(root, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sops_paths() {
        assert_eq!(
            parse_tree_path(r#"["a"][0]['b c']"#).unwrap(),
            vec![
                PathComponent::Key("a".into()),
                PathComponent::Index(0),
                PathComponent::Key("b c".into())
            ]
        );
        assert_eq!(parse_tree_path("").unwrap(), vec![]);
        assert!(matches!(
            parse_tree_path(r#"["a""#),
            Err(PathError::Unterminated(_))
        ));
        assert!(matches!(
            parse_tree_path("[x]"),
            Err(PathError::NotANumber(_))
        ));
    }

    fn p(text: &str) -> Vec<PathComponent> {
        parse_tree_path(text).unwrap()
    }

    #[test]
    fn set_creates_missing_keys_and_appends() {
        let mut root = Map::new();
        assert!(set(&mut root, &p(r#"["a"]["b"]"#), Node::str("x")));
        assert!(!set(&mut root, &p(r#"["a"]["b"]"#), Node::str("x")));
        assert!(set(&mut root, &p(r#"["l"][5]"#), Node::str("first")));
        assert!(set(&mut root, &p(r#"["l"][9]"#), Node::str("second")));
        match lookup(&root, &p(r#"["l"][1]"#)).unwrap() {
            Found::Node(n) => assert_eq!(n.as_str(), Some("second")),
            _ => panic!("expected a node"),
        }
        match lookup(&root, &p(r#"["a"]["b"]"#)).unwrap() {
            Found::Node(n) => assert_eq!(n.as_str(), Some("x")),
            _ => panic!("expected a node"),
        }
    }

    #[test]
    fn unset_removes_or_reports() {
        let mut root = Map::new();
        set(&mut root, &p(r#"["a"]["b"]"#), Node::str("x"));
        set(&mut root, &p(r#"["a"]["c"]"#), Node::str("y"));
        unset(&mut root, &p(r#"["a"]["b"]"#)).unwrap();
        assert!(lookup(&root, &p(r#"["a"]["b"]"#)).is_err());
        assert!(lookup(&root, &p(r#"["a"]["c"]"#)).is_ok());
        assert_eq!(
            unset(&mut root, &p(r#"["zz"]"#)),
            Err(LookupError::KeyNotFound("zz".into()))
        );
    }

    /// Regression (fuzz target `tree_path`): a quoted key whose last character is multi-byte
    /// was cut inside that character and panicked.
    #[test]
    fn multibyte_char_in_place_of_the_closing_quote() {
        assert_eq!(
            parse_tree_path("[\"\u{7d1}]"),
            Err(PathError::UnclosedQuote("\"\u{7d1}]".into()))
        );
        assert_eq!(
            parse_tree_path("[\"ab\u{e9}]"),
            Err(PathError::UnclosedQuote("\"ab\u{e9}]".into()))
        );
        // An ASCII last character is dropped as the quote, as sops does.
        assert_eq!(
            parse_tree_path("[\"abc]"),
            Ok(vec![PathComponent::Key("ab".into())])
        );
        assert_eq!(
            parse_tree_path("[\"\u{e9}\"]"),
            Ok(vec![PathComponent::Key("\u{e9}".into())])
        );
    }
}
