//! The flat spelling of the `sops` metadata used by dotenv (`sops_…` keys) and INI (`[sops]`
//! section): nested map keys become `__map_<key>`, list positions `__list_<i>`.
//!
//! Mirrors sops 3.11's `stores/flatten.go`, including its odd corners (an unparsable list index
//! counts as 0, later keys overwrite earlier ones), so files written by either tool read back alike.

use super::StoreError;
use crate::tree::{ListItem, Map, Node, Scalar};

const MAP_SEPARATOR: &str = "__map_";
const LIST_SEPARATOR: &str = "__list_";

/// A list index beyond this is treated as corrupt metadata rather than allocated.
const MAX_LIST_INDEX: usize = 100_000;

/// Flattens the metadata mapping into `(path, text)` pairs, sorted bytewise by path as sops 3.11
/// writes dotenv files. Nulls and empty containers produce nothing; non-strings become their text.
pub fn flatten(metadata: &Node) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Node::Map(map) = metadata {
        for (key, value) in map.entries() {
            flatten_into(&mut out, key.to_string(), value);
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    // sops collects the pairs in a Go map, so a repeated path keeps a single value.
    out.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            std::mem::swap(&mut later.1, &mut earlier.1);
            true
        } else {
            false
        }
    });
    out
}

fn flatten_into(out: &mut Vec<(String, String)>, path: String, node: &Node) {
    match node {
        Node::Map(map) => {
            for (key, value) in map.entries() {
                flatten_into(out, format!("{path}{MAP_SEPARATOR}{key}"), value);
            }
        }
        Node::List(items) => {
            let values = items.iter().filter_map(|item| match item {
                ListItem::Value(value) => Some(value),
                ListItem::Comment(_) => None,
            });
            for (index, value) in values.enumerate() {
                flatten_into(out, format!("{path}{LIST_SEPARATOR}{index}"), value);
            }
        }
        Node::Scalar(scalar) => {
            if let Some(text) = metadata_text(scalar) {
                out.push((path, text));
            }
        }
    }
}

/// sops round-trips the metadata through JSON (numbers become float64) and then spells
/// `shamir_threshold` with `%.0f` and `mac_only_encrypted` as `true`/`false`.
fn metadata_text(scalar: &Scalar) -> Option<String> {
    Some(match scalar {
        Scalar::Null => return None,
        Scalar::Str(s) | Scalar::Time(s) => s.clone(),
        Scalar::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) if f.is_finite() && f.fract() == 0.0 => format!("{f:.0}"),
        Scalar::Float(f) => crate::compat::number::format_float_f(*f),
    })
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Key(&'a str),
    Index(usize),
}

/// sops's `tokenize`: the text before the first separator is a map key, then one token per
/// separator. An index that is not a number counts as 0, as Go's ignored `Atoi` error gives.
fn tokenize(path: &str) -> Result<Vec<Token<'_>>, StoreError> {
    let bytes = path.as_bytes();
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut in_list = false;
    let mut i = 0;
    while i < bytes.len() {
        let separator = if bytes[i..].starts_with(MAP_SEPARATOR.as_bytes()) {
            Some((MAP_SEPARATOR.len(), false))
        } else if bytes[i..].starts_with(LIST_SEPARATOR.as_bytes()) {
            Some((LIST_SEPARATOR.len(), true))
        } else {
            None
        };
        match separator {
            Some((len, is_list)) => {
                tokens.push(token(&path[start..i], in_list)?);
                i += len;
                start = i;
                in_list = is_list;
            }
            None => i += 1,
        }
    }
    tokens.push(token(&path[start..], in_list)?);
    Ok(tokens)
}

fn token(text: &str, is_index: bool) -> Result<Token<'_>, StoreError> {
    if !is_index {
        return Ok(Token::Key(text));
    }
    match text.parse::<i64>() {
        Ok(n) if n < 0 || n as u64 > MAX_LIST_INDEX as u64 => Err(StoreError::Metadata(
            "a flattened metadata key has an out-of-range list index".to_string(),
        )),
        Ok(n) => Ok(Token::Index(n as usize)),
        Err(_) => Ok(Token::Index(0)),
    }
}

/// The tree under construction; list slots not (yet) filled are `None`.
enum Building {
    Map(Vec<(String, Building)>),
    List(Vec<Option<Building>>),
    Leaf(String),
}

fn conflict() -> StoreError {
    StoreError::Metadata("flattened metadata keys disagree about the shape of a value".to_string())
}

fn container_for(next: &Token) -> Building {
    match next {
        Token::Key(_) => Building::Map(Vec::new()),
        Token::Index(i) => Building::List((0..=*i).map(|_| None).collect()),
    }
}

/// Makes `slot` a container fit for `next` (creating or growing it) and returns it.
fn descend<'b>(slot: &'b mut Building, next: &Token) -> Result<&'b mut Building, StoreError> {
    match (&mut *slot, next) {
        (Building::Map(_), Token::Key(_)) => {}
        (Building::List(items), Token::Index(i)) => {
            if *i >= items.len() {
                items.resize_with(i + 1, || None);
            }
        }
        _ => return Err(conflict()),
    }
    Ok(slot)
}

fn insert(node: &mut Building, tokens: &[Token], value: String) -> Result<(), StoreError> {
    let (first, rest) = tokens.split_first().ok_or_else(conflict)?;
    let slot: &mut Option<Building> = match (node, first) {
        (Building::Map(entries), Token::Key(key)) => {
            let position = match entries.iter().position(|(k, _)| k == key) {
                Some(p) => p,
                None => {
                    let fresh = match rest.first() {
                        Some(next) => container_for(next),
                        None => Building::Leaf(String::new()),
                    };
                    entries.push((key.to_string(), fresh));
                    entries.len() - 1
                }
            };
            let target = &mut entries[position].1;
            return match rest.first() {
                None => {
                    *target = Building::Leaf(value);
                    Ok(())
                }
                Some(next) => insert(descend(target, next)?, rest, value),
            };
        }
        (Building::List(items), Token::Index(i)) => items.get_mut(*i).ok_or_else(conflict)?,
        _ => return Err(conflict()),
    };
    match rest.first() {
        None => {
            *slot = Some(Building::Leaf(value));
            Ok(())
        }
        Some(next) => {
            let target = slot.get_or_insert_with(|| container_for(next));
            insert(descend(target, next)?, rest, value)
        }
    }
}

fn into_node(building: Building) -> Node {
    match building {
        Building::Leaf(text) => Node::Scalar(Scalar::Str(text)),
        Building::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                map.push(key, into_node(value));
            }
            Node::Map(map)
        }
        Building::List(items) => Node::List(
            items
                .into_iter()
                .map(|item| ListItem::Value(item.map_or(Node::Scalar(Scalar::Null), into_node)))
                .collect(),
        ),
    }
}

/// sops's `DecodeNonStrings`, kept as text: `mac_only_encrypted` is true only for `true`, and
/// `shamir_threshold` may be an integer or an integral float (older sops wrote `2.000000`).
fn decode_non_string(key: &str, value: String) -> Result<String, StoreError> {
    match key {
        "mac_only_encrypted" => Ok((value == "true").to_string()),
        "shamir_threshold" => {
            if let Ok(n) = value.parse::<i64>() {
                return Ok(n.to_string());
            }
            match crate::compat::number::parse_go_float(&value) {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(format!("{f:.0}")),
                _ => Err(StoreError::Metadata(
                    "shamir_threshold is not an integer".to_string(),
                )),
            }
        }
        _ => Ok(value),
    }
}

/// Rebuilds the metadata mapping from flattened pairs (paths without any `sops_` prefix).
/// Every leaf is a string; list gaps are nulls. Later pairs overwrite earlier ones.
pub fn unflatten(pairs: Vec<(String, String)>) -> Result<Node, StoreError> {
    let mut root = Building::Map(Vec::new());
    for (path, value) in pairs {
        let value = decode_non_string(&path, value)?;
        let tokens = tokenize(&path)?;
        insert(&mut root, &tokens, value)?;
    }
    Ok(into_node(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Node {
        Node::str(text)
    }

    fn map(entries: Vec<(&str, Node)>) -> Node {
        let mut m = Map::new();
        for (k, v) in entries {
            m.push(k, v);
        }
        Node::Map(m)
    }

    fn list(values: Vec<Node>) -> Node {
        Node::List(values.into_iter().map(ListItem::Value).collect())
    }

    fn sample() -> Node {
        map(vec![
            ("shamir_threshold", Node::Scalar(Scalar::Int(2))),
            (
                "key_groups",
                list(vec![
                    map(vec![
                        (
                            "pgp",
                            list(vec![map(vec![("fp", s("F1")), ("enc", s("a\nb"))])]),
                        ),
                        ("hc_vault", Node::Scalar(Scalar::Null)),
                        ("age", list(vec![])),
                    ]),
                    map(vec![(
                        "kms",
                        list(vec![map(vec![
                            ("arn", s("arn:x")),
                            ("context", map(vec![("tenant", s("t1"))])),
                        ])]),
                    )]),
                ]),
            ),
            ("lastmodified", s("2024-01-01T00:00:00Z")),
            ("mac_only_encrypted", Node::Scalar(Scalar::Bool(true))),
            ("version", s("3.11.0")),
        ])
    }

    #[test]
    fn flattens_in_sorted_order_with_text_values() {
        let flat = flatten(&sample());
        let keys: Vec<&str> = flat.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "key_groups__list_0__map_pgp__list_0__map_enc",
                "key_groups__list_0__map_pgp__list_0__map_fp",
                "key_groups__list_1__map_kms__list_0__map_arn",
                "key_groups__list_1__map_kms__list_0__map_context__map_tenant",
                "lastmodified",
                "mac_only_encrypted",
                "shamir_threshold",
                "version",
            ]
        );
        assert_eq!(flat[0].1, "a\nb");
        assert_eq!(flat[5].1, "true");
        assert_eq!(flat[6].1, "2");
    }

    #[test]
    fn list_comments_do_not_count() {
        let node = map(vec![(
            "pgp",
            Node::List(vec![
                ListItem::Comment("c".into()),
                ListItem::Value(map(vec![("fp", s("X"))])),
            ]),
        )]);
        assert_eq!(
            flatten(&node),
            vec![("pgp__list_0__map_fp".to_string(), "X".to_string())]
        );
    }

    #[test]
    fn unflatten_inverts_flatten() {
        let flat = flatten(&sample());
        let node = unflatten(flat.clone()).unwrap();
        assert_eq!(flatten(&node), flat);
        let m = node.as_map().unwrap();
        assert_eq!(m.get("shamir_threshold").unwrap().as_str(), Some("2"));
        let Node::List(groups) = m.get("key_groups").unwrap() else {
            panic!("not a list")
        };
        assert_eq!(groups.len(), 2);
    }

    #[test]
    fn unflatten_fills_gaps_and_decodes_non_strings() {
        let node = unflatten(vec![
            ("pgp__list_1__map_fp".into(), "B".into()),
            ("mac_only_encrypted".into(), "yes".into()),
            ("shamir_threshold".into(), "3.000000".into()),
        ])
        .unwrap();
        let m = node.as_map().unwrap();
        let Node::List(items) = m.get("pgp").unwrap() else {
            panic!("not a list")
        };
        assert!(matches!(
            items[0],
            ListItem::Value(Node::Scalar(Scalar::Null))
        ));
        assert_eq!(m.get("mac_only_encrypted").unwrap().as_str(), Some("false"));
        assert_eq!(m.get("shamir_threshold").unwrap().as_str(), Some("3"));
        assert!(unflatten(vec![("shamir_threshold".into(), "1.5".into())]).is_err());
    }

    #[test]
    fn unflatten_rejects_shape_conflicts_and_huge_indexes() {
        assert!(unflatten(vec![
            ("a".into(), "x".into()),
            ("a__map_b".into(), "y".into())
        ])
        .is_err());
        assert!(unflatten(vec![("a__list_99999999".into(), "x".into())]).is_err());
        let odd = unflatten(vec![("a__list_x".into(), "v".into())]).unwrap();
        let Node::List(items) = odd.as_map().unwrap().get("a").unwrap() else {
            panic!("not a list")
        };
        assert_eq!(items.len(), 1);
    }

    #[test]
    fn tokenizes_like_sops() {
        assert_eq!(
            tokenize("a__list_2__map_b_c").unwrap(),
            vec![Token::Key("a"), Token::Index(2), Token::Key("b_c")]
        );
    }
}
