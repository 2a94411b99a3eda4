//! The `sops` block's wire shape as a [`Node`], shared by every store: read by field name
//! (sops 3.11 and 3.13 layouts alike), written in sops 3.11's field order.

use super::{scalar_text, StoreError};
use crate::keys::registry::{READ_ORDER, WRITE_ORDER};
use crate::metadata::*;
use crate::tree::{ListItem, Map, Node, Scalar};
use std::collections::BTreeMap;

fn bad(message: impl Into<String>) -> StoreError {
    StoreError::Metadata(message.into())
}

fn field(map: &Map, name: &str) -> Option<String> {
    map.get(name).and_then(scalar_text)
}

fn required(map: &Map, name: &str, what: &str) -> Result<String, StoreError> {
    field(map, name).ok_or_else(|| bad(format!("{what} has no `{name}` field")))
}

/// A missing `enc` loads as empty, as in sops: that key then fails to decrypt, which is reported
/// per key (exit 128) instead of making the whole file unreadable.
fn enc(map: &Map) -> String {
    field(map, "enc").unwrap_or_default()
}

fn created_at(map: &Map, what: &str) -> Result<String, StoreError> {
    let value = required(map, "created_at", what)?;
    if crate::compat::rfc3339::parse_rfc3339(&value).is_none() {
        return Err(bad(format!(
            "{what} has a `created_at` that is not an RFC 3339 time"
        )));
    }
    Ok(value)
}

/// The entries of a key list; `null`, `[]` and an absent field all mean "none".
fn entries<'a>(map: &'a Map, name: &str) -> Result<Vec<&'a Map>, StoreError> {
    match map.get(name) {
        None | Some(Node::Scalar(Scalar::Null)) => Ok(Vec::new()),
        Some(Node::Scalar(Scalar::Str(s))) if s.is_empty() => Ok(Vec::new()),
        Some(Node::List(items)) => items
            .iter()
            .filter_map(|item| match item {
                ListItem::Value(v) => Some(v),
                ListItem::Comment(_) => None,
            })
            .map(|v| {
                v.as_map()
                    .ok_or_else(|| bad(format!("an entry of `{name}` is not a mapping")))
            })
            .collect(),
        Some(_) => Err(bad(format!("`{name}` is not a list"))),
    }
}

/// One key entry of the `sops:` block, read by a backend with sops's rules.
pub struct Entry<'a> {
    map: &'a Map,
    type_id: &'static str,
}

impl<'a> Entry<'a> {
    pub fn new(map: &'a Map, type_id: &'static str) -> Entry<'a> {
        Entry { map, type_id }
    }

    fn what(&self) -> String {
        let article = match self.type_id.chars().next() {
            Some('a' | 'e' | 'i' | 'o' | 'u' | 'h') => "an",
            _ => "a",
        };
        format!("{article} {} key", self.type_id)
    }

    pub fn required(&self, name: &str) -> Result<String, StoreError> {
        required(self.map, name, &self.what())
    }

    /// An `omitempty` field: absent reads as empty.
    pub fn optional(&self, name: &str) -> String {
        field(self.map, name).unwrap_or_default()
    }

    pub fn created_at(&self) -> Result<String, StoreError> {
        created_at(self.map, &self.what())
    }

    pub fn enc(&self) -> String {
        enc(self.map)
    }

    /// A nested mapping of strings (AWS KMS's `context`); absent reads as empty.
    pub fn string_map(&self, name: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(Node::Map(m)) = self.map.get(name) {
            for (k, v) in m.entries() {
                out.insert(k.to_string(), scalar_text(v).unwrap_or_default());
            }
        }
        out
    }
}

fn read_group(map: &Map) -> Result<KeyGroup, StoreError> {
    let mut keys = Vec::new();
    for backend in READ_ORDER {
        for entry in entries(map, backend.type_id())? {
            keys.push(backend.read_stanza(entry)?);
        }
    }
    Ok(KeyGroup { keys })
}

fn read_groups(map: &Map) -> Result<Vec<KeyGroup>, StoreError> {
    let top = read_group(map)?;
    if !top.keys.is_empty() {
        return Ok(vec![top]);
    }
    let groups: Vec<KeyGroup> = entries(map, "key_groups")?
        .into_iter()
        .map(read_group)
        .collect::<Result<_, _>>()?;
    if groups.is_empty() {
        return Err(bad("no keys found in the file's metadata"));
    }
    Ok(groups)
}

fn read_rule(map: &Map) -> Result<PartialRule, StoreError> {
    let mut found = PartialRule::None;
    for name in PartialRule::FIELDS {
        if let Some(value) = field(map, name).filter(|v| !v.is_empty()) {
            if found != PartialRule::None {
                return Err(bad(
                    "more than one of the partial-encryption options is set; sops allows only one",
                ));
            }
            found = PartialRule::from_field(name, value).expect("a known field name");
        }
    }
    Ok(found)
}

fn read_bool(map: &Map, name: &str) -> Result<bool, StoreError> {
    match field(map, name) {
        None => Ok(false),
        Some(v) => crate::compat::number::parse_go_bool(&v)
            .ok_or_else(|| bad(format!("`{name}` is not a boolean"))),
    }
}

/// Reads the `sops` block.
pub fn from_node(node: &Node) -> Result<Metadata, StoreError> {
    let map = node
        .as_map()
        .ok_or_else(|| bad("the `sops` entry is not a mapping"))?;
    let last_modified = required(map, "lastmodified", "the metadata")?;
    if crate::compat::rfc3339::parse_rfc3339(&last_modified).is_none() {
        return Err(bad("`lastmodified` is not an RFC 3339 time"));
    }
    let version = field(map, "version").unwrap_or_default();
    crate::compat::semver::check(&version).map_err(bad)?;
    let shamir_threshold = match field(map, "shamir_threshold") {
        None => 0,
        Some(v) => v
            .parse()
            .map_err(|_| bad("`shamir_threshold` is not a number"))?,
    };
    Ok(Metadata {
        key_groups: read_groups(map)?,
        shamir_threshold,
        last_modified,
        mac: field(map, "mac").filter(|m| !m.is_empty()),
        rule: read_rule(map)?,
        mac_only_encrypted: read_bool(map, "mac_only_encrypted")?,
        version,
    })
}

/// A string field as sops writes it.
pub fn text(s: &str) -> Node {
    Node::str(s)
}

fn stanza_node(key: &KeyStanza) -> Node {
    Node::Map(key.fields().to_wire())
}

fn list_of(group: &KeyGroup, type_id: &str) -> Node {
    Node::List(
        group
            .keys
            .iter()
            .filter(|k| k.type_id() == type_id)
            .map(|k| ListItem::Value(stanza_node(k)))
            .collect(),
    )
}

fn is_empty_list(node: &Node) -> bool {
    matches!(node, Node::List(items) if items.is_empty())
}

/// Pushes `type_id`'s list unless it is empty (sops's `omitempty`).
fn push_keys(map: &mut Map, group: &KeyGroup, type_id: &str) {
    let list = list_of(group, type_id);
    if !is_empty_list(&list) {
        map.push(type_id, list);
    }
}

/// Writes the `sops` block in sops 3.11's field order.
pub fn to_node(meta: &Metadata) -> Node {
    to_node_with(meta, Node::List(Vec::new()))
}

/// Like [`to_node`], with `no_keys` for the empty `hc_vault`/`age` lists every sops 3.11 key group
/// carries: Go marshals those nil slices as `[]` in YAML but as `null` in JSON.
pub fn to_node_with(meta: &Metadata, no_keys: Node) -> Node {
    let mut m = Map::new();
    let single = meta.key_groups.len() == 1;
    // Written whenever set, even for one group, as sops records a rule's threshold.
    if meta.shamir_threshold > 0 {
        m.push(
            "shamir_threshold",
            Node::Scalar(Scalar::Int(meta.shamir_threshold as i64)),
        );
    }
    if !single {
        let groups = meta
            .key_groups
            .iter()
            .map(|group| {
                let mut g = Map::new();
                for backend in WRITE_ORDER {
                    let t = backend.type_id();
                    let list = list_of(group, t);
                    if backend.always_in_groups() && is_empty_list(&list) {
                        g.push(t, no_keys.clone());
                    } else if !is_empty_list(&list) {
                        g.push(t, list);
                    }
                }
                ListItem::Value(Node::Map(g))
            })
            .collect();
        m.push("key_groups", Node::List(groups));
    }
    let empty = KeyGroup::default();
    let top = if single { &meta.key_groups[0] } else { &empty };
    for backend in WRITE_ORDER.iter().filter(|b| !b.written_after_mac()) {
        push_keys(&mut m, top, backend.type_id());
    }
    m.push("lastmodified", text(&meta.last_modified));
    m.push("mac", text(meta.mac.as_deref().unwrap_or("")));
    for backend in WRITE_ORDER.iter().filter(|b| b.written_after_mac()) {
        push_keys(&mut m, top, backend.type_id());
    }
    if let (Some(name), Some(value)) = (meta.rule.field_name(), meta.rule.value()) {
        m.push(name, text(value));
    }
    if meta.mac_only_encrypted {
        m.push("mac_only_encrypted", Node::Scalar(Scalar::Bool(true)));
    }
    m.push("version", text(&meta.version));
    Node::Map(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(groups: usize) -> Metadata {
        let age = |n: usize| {
            KeyStanza::Age(AgeStanza {
                recipient: format!("age1recipient{n}"),
                enc: "-----BEGIN AGE ENCRYPTED FILE-----\nxx\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
            })
        };
        let pgp = KeyStanza::Pgp(PgpStanza {
            fp: "ABCD".into(),
            created_at: "2026-11-26T14:00:27Z".into(),
            enc: "-----BEGIN PGP MESSAGE-----\n\nxx\n-----END PGP MESSAGE-----".into(),
        });
        Metadata {
            key_groups: (0..groups)
                .map(|n| KeyGroup {
                    keys: vec![pgp.clone(), age(n)],
                })
                .collect(),
            shamir_threshold: if groups > 1 { 2 } else { 0 },
            last_modified: "2026-11-26T14:00:27Z".into(),
            mac: Some("ENC[AES256_GCM,data:YQ==,iv:YQ==,tag:YQ==,type:str]".into()),
            rule: PartialRule::EncryptedRegex("^data$".into()),
            mac_only_encrypted: true,
            version: WRITTEN_VERSION.into(),
        }
    }

    #[test]
    fn round_trips_one_and_many_groups() {
        for groups in [1, 3] {
            let meta = sample(groups);
            let back = from_node(&to_node(&meta)).unwrap();
            // Reading regroups keys in sops's type order (pgp before age), as written here.
            assert_eq!(back, meta);
        }
    }

    #[test]
    fn writes_311_field_order() {
        let node = to_node(&sample(1));
        let keys: Vec<&str> = node.as_map().unwrap().entries().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "age",
                "lastmodified",
                "mac",
                "pgp",
                "encrypted_regex",
                "mac_only_encrypted",
                "version"
            ]
        );
    }

    #[test]
    fn reads_weakly_typed_flattened_values() {
        let mut node = to_node(&sample(3));
        let map = match &mut node {
            Node::Map(m) => m,
            _ => unreachable!(),
        };
        map.insert("shamir_threshold", Node::str("2"));
        map.insert("mac_only_encrypted", Node::str("true"));
        let meta = from_node(&node).unwrap();
        assert_eq!(meta.shamir_threshold, 2);
        assert!(meta.mac_only_encrypted);
    }

    #[test]
    fn rejects_missing_created_at_and_keys() {
        let mut node = to_node(&sample(1));
        if let Node::Map(m) = &mut node {
            m.remove("pgp");
            m.remove("age");
        }
        assert!(from_node(&node).is_err());
    }
}
