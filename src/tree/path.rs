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
    #[error("component `{0}` does not end with `]`")]
    Unterminated(String),
    #[error("component `{0}` is neither a quoted key nor a number")]
    NotANumber(String),
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
                &inner[1..inner.len() - 1]
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
}
