//! The `sops` block's wire shape as a [`Node`], shared by every store: read by field name
//! (sops 3.11 and 3.13 layouts alike), written in sops 3.11's field order.

use super::StoreError;
use crate::metadata::*;
use crate::tree::{ListItem, Map, Node, Scalar};
use std::collections::BTreeMap;

fn bad(message: impl Into<String>) -> StoreError {
    StoreError::Metadata(message.into())
}

/// Scalars are read weakly typed, as sops 3.13 does: flattened formats store everything as text.
fn scalar_text(node: &Node) -> Option<String> {
    match node {
        Node::Scalar(Scalar::Str(s)) | Node::Scalar(Scalar::Time(s)) => Some(s.clone()),
        Node::Scalar(Scalar::Int(i)) => Some(i.to_string()),
        Node::Scalar(Scalar::Bool(b)) => Some(b.to_string()),
        Node::Scalar(Scalar::Float(f)) => Some(crate::crypto::format_float_f(*f)),
        _ => None,
    }
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
    if crate::timefmt::parse_rfc3339(&value).is_none() {
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

fn read_pgp(m: &Map) -> Result<KeyStanza, StoreError> {
    Ok(KeyStanza::Pgp(PgpStanza {
        fp: required(m, "fp", "a pgp key")?,
        created_at: created_at(m, "a pgp key")?,
        enc: enc(m),
    }))
}

fn read_age(m: &Map) -> Result<KeyStanza, StoreError> {
    Ok(KeyStanza::Age(AgeStanza {
        recipient: required(m, "recipient", "an age key")?,
        enc: enc(m),
    }))
}

fn read_kms(m: &Map) -> Result<KeyStanza, StoreError> {
    let mut context = BTreeMap::new();
    if let Some(Node::Map(ctx)) = m.get("context") {
        for (k, v) in ctx.entries() {
            context.insert(k.to_string(), scalar_text(v).unwrap_or_default());
        }
    }
    Ok(KeyStanza::Kms(KmsStanza {
        arn: required(m, "arn", "a kms key")?,
        role: field(m, "role").unwrap_or_default(),
        context,
        created_at: created_at(m, "a kms key")?,
        enc: enc(m),
        aws_profile: field(m, "aws_profile").unwrap_or_default(),
    }))
}

fn read_gcp(m: &Map) -> Result<KeyStanza, StoreError> {
    Ok(KeyStanza::GcpKms(GcpKmsStanza {
        resource_id: required(m, "resource_id", "a gcp_kms key")?,
        created_at: created_at(m, "a gcp_kms key")?,
        enc: enc(m),
    }))
}

fn read_azure(m: &Map) -> Result<KeyStanza, StoreError> {
    Ok(KeyStanza::AzureKv(AzureKvStanza {
        vault_url: required(m, "vault_url", "an azure_kv key")?,
        name: required(m, "name", "an azure_kv key")?,
        version: field(m, "version").unwrap_or_default(),
        created_at: created_at(m, "an azure_kv key")?,
        enc: enc(m),
    }))
}

fn read_vault(m: &Map) -> Result<KeyStanza, StoreError> {
    Ok(KeyStanza::HcVault(HcVaultStanza {
        vault_address: required(m, "vault_address", "an hc_vault key")?,
        engine_path: required(m, "engine_path", "an hc_vault key")?,
        key_name: required(m, "key_name", "an hc_vault key")?,
        created_at: created_at(m, "an hc_vault key")?,
        enc: enc(m),
    }))
}

fn read_hckms(m: &Map) -> Result<KeyStanza, StoreError> {
    Ok(KeyStanza::Hckms(HckmsStanza {
        key_id: required(m, "key_id", "an hckms key")?,
        created_at: created_at(m, "an hckms key")?,
        enc: enc(m),
    }))
}

type Reader = fn(&Map) -> Result<KeyStanza, StoreError>;

/// sops builds a group in this type order, whatever order the file lists them in.
const READ_ORDER: [(&str, Reader); 7] = [
    ("kms", read_kms),
    ("gcp_kms", read_gcp),
    ("hckms", read_hckms),
    ("azure_kv", read_azure),
    ("hc_vault", read_vault),
    ("pgp", read_pgp),
    ("age", read_age),
];

fn read_group(map: &Map) -> Result<KeyGroup, StoreError> {
    let mut keys = Vec::new();
    for (name, reader) in READ_ORDER {
        for entry in entries(map, name)? {
            keys.push(reader(entry)?);
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
        Some(v) => crate::crypto::parse_go_bool(&v)
            .ok_or_else(|| bad(format!("`{name}` is not a boolean"))),
    }
}

/// Reads the `sops` block.
pub fn from_node(node: &Node) -> Result<Metadata, StoreError> {
    let map = node
        .as_map()
        .ok_or_else(|| bad("the `sops` entry is not a mapping"))?;
    let last_modified = required(map, "lastmodified", "the metadata")?;
    if crate::timefmt::parse_rfc3339(&last_modified).is_none() {
        return Err(bad("`lastmodified` is not an RFC 3339 time"));
    }
    let version = field(map, "version").unwrap_or_default();
    crate::semver::check(&version).map_err(bad)?;
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

fn text(s: &str) -> Node {
    Node::str(s)
}

fn stanza_node(key: &KeyStanza) -> Node {
    let mut m = Map::new();
    match key {
        KeyStanza::Pgp(k) => {
            m.push("created_at", text(&k.created_at));
            m.push("enc", text(&k.enc));
            m.push("fp", text(&k.fp));
        }
        KeyStanza::Age(k) => {
            m.push("recipient", text(&k.recipient));
            m.push("enc", text(&k.enc));
        }
        KeyStanza::Kms(k) => {
            m.push("arn", text(&k.arn));
            if !k.role.is_empty() {
                m.push("role", text(&k.role));
            }
            if !k.context.is_empty() {
                let mut ctx = Map::new();
                for (a, b) in &k.context {
                    ctx.push(a.as_str(), text(b));
                }
                m.push("context", Node::Map(ctx));
            }
            m.push("created_at", text(&k.created_at));
            m.push("enc", text(&k.enc));
            m.push("aws_profile", text(&k.aws_profile));
        }
        KeyStanza::GcpKms(k) => {
            m.push("resource_id", text(&k.resource_id));
            m.push("created_at", text(&k.created_at));
            m.push("enc", text(&k.enc));
        }
        KeyStanza::AzureKv(k) => {
            m.push("vault_url", text(&k.vault_url));
            m.push("name", text(&k.name));
            m.push("version", text(&k.version));
            m.push("created_at", text(&k.created_at));
            m.push("enc", text(&k.enc));
        }
        KeyStanza::HcVault(k) => {
            m.push("vault_address", text(&k.vault_address));
            m.push("engine_path", text(&k.engine_path));
            m.push("key_name", text(&k.key_name));
            m.push("created_at", text(&k.created_at));
            m.push("enc", text(&k.enc));
        }
        KeyStanza::Hckms(k) => {
            m.push("key_id", text(&k.key_id));
            m.push("created_at", text(&k.created_at));
            m.push("enc", text(&k.enc));
        }
    }
    Node::Map(m)
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
                for t in ["pgp", "kms", "gcp_kms", "azure_kv"] {
                    push_keys(&mut g, group, t);
                }
                for t in ["hc_vault", "age"] {
                    let list = list_of(group, t);
                    g.push(
                        t,
                        if is_empty_list(&list) {
                            no_keys.clone()
                        } else {
                            list
                        },
                    );
                }
                push_keys(&mut g, group, "hckms");
                ListItem::Value(Node::Map(g))
            })
            .collect();
        m.push("key_groups", Node::List(groups));
    }
    let empty = KeyGroup::default();
    let top = if single { &meta.key_groups[0] } else { &empty };
    for t in ["kms", "gcp_kms", "azure_kv", "hc_vault", "age"] {
        push_keys(&mut m, top, t);
    }
    m.push("lastmodified", text(&meta.last_modified));
    m.push("mac", text(meta.mac.as_deref().unwrap_or("")));
    push_keys(&mut m, top, "pgp");
    push_keys(&mut m, top, "hckms");
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
