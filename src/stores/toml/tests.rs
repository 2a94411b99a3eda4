use super::*;
use crate::crypto::{decrypt_document, encrypt_document, Cipher, DataKey, Protection};
use crate::stores::sample_metadata;
use crate::tree::{ListItem, MapItem, Node, Scalar, Selector};
use proptest::prelude::*;

fn load(text: &str) -> Map {
    TomlStore
        .load_plain(text.as_bytes())
        .unwrap()
        .branches
        .remove(0)
}

fn emit(map: &Map) -> String {
    String::from_utf8(
        TomlStore
            .emit_plain(&Document::single(map.clone()))
            .unwrap(),
    )
    .unwrap()
}

fn keys(map: &Map) -> Vec<String> {
    map.items
        .iter()
        .map(|item| match item {
            MapItem::Entry { key, .. } => key.clone(),
            MapItem::Comment(text) => format!("#{text}"),
        })
        .collect()
}

/// Already in the one layout the store writes, so it must come back byte for byte.
const CANONICAL: &str = r#"# a service
name = "api"
port = 8443
ratio = 0.25
big = 1e300
debug = false
started = 1979-05-27T07:32:00.999Z
day = 1979-05-27
at = 07:32:00
local = 1979-05-27T07:32:00
ports = [8001, 8002]
point = { x = 1, "y z" = "two" }
motd = """
line one
line \"two\"\t
"""

# the database
[database]
# password comes from vault
password = "s3cr3t"
limits = [
    # soft first
    1,
    2,
]

[database.replica]
host = "r1"

[[servers]]
name = "a"

# second server
[[servers]]
name = "b"

[[servers.disks]]
size = 10

# closing remark
"#;

#[test]
fn canonical_text_comes_back_byte_for_byte() {
    assert_eq!(emit(&load(CANONICAL)), CANONICAL);
}

#[test]
fn values_keep_their_toml_types() {
    let root = load(CANONICAL);
    let scalar = |key: &str| match root.get(key) {
        Some(Node::Scalar(s)) => s.clone(),
        other => panic!("{key}: {other:?}"),
    };
    assert!(matches!(scalar("port"), Scalar::Int(8443)));
    assert!(matches!(scalar("ratio"), Scalar::Float(f) if f == 0.25));
    assert!(matches!(scalar("debug"), Scalar::Bool(false)));
    assert!(matches!(scalar("started"), Scalar::Time(t) if t == "1979-05-27T07:32:00.999Z"));
    assert!(matches!(scalar("day"), Scalar::Time(t) if t == "1979-05-27"));
    assert!(matches!(scalar("motd"), Scalar::Str(s) if s == "line one\nline \"two\"\t\n"));
    let servers = match root.get("servers") {
        Some(Node::List(items)) => items,
        other => panic!("{other:?}"),
    };
    assert_eq!(servers.len(), 3, "two tables and the comment between them");
    assert!(matches!(&servers[1], ListItem::Comment(c) if c == " second server"));
}

#[test]
fn comments_are_items_where_they_were() {
    let root = load(CANONICAL);
    let top = keys(&root);
    assert_eq!(top[0], "# a service");
    let db = top.iter().position(|k| k == "database").unwrap();
    assert_eq!(
        top[db - 1],
        "# the database",
        "a comment above a header is its parent's"
    );
    assert_eq!(top.last().unwrap(), "# closing remark");
    let Some(Node::Map(database)) = root.get("database") else {
        panic!()
    };
    assert_eq!(
        keys(database)[..2],
        ["# password comes from vault", "password"]
    );
}

#[test]
fn other_spellings_read_the_same_and_settle_in_one_layout() {
    let text = "a.b = 1 # note\nc = 'lit'\nt = { n.m = 0x10, e = [] }\n[x]\ny = +inf\nz = 1979-05-27 07:32:00+00:00\n";
    let root = load(text);
    let written = emit(&root);
    assert_eq!(
        written,
        "a = {\n    # note\n    b = 1,\n}\nc = \"lit\"\n\n[t]\nn = { m = 16 }\ne = []\n\n[x]\ny = inf\nz = 1979-05-27T07:32:00Z\n"
    );
    assert!(load(&written) == root);
}

#[test]
fn a_value_after_a_table_keeps_its_place() {
    // From `set` or another format: a table, then a plain value, then a table ending in a
    // comment. Headers cannot express that order; inline tables can.
    let mut inner = Map::new();
    inner.push("k", Node::str("v"));
    let mut commented = inner.clone();
    commented.items.push(MapItem::Comment(" end".into()));
    let mut root = Map::new();
    root.push("t", Node::Map(inner));
    root.push("after", Node::Scalar(Scalar::Int(1)));
    root.push("u", Node::Map(commented));
    let written = emit(&root);
    assert_eq!(
        written,
        "t = { k = \"v\" }\nafter = 1\nu = {\n    k = \"v\",\n    # end\n}\n"
    );
    assert!(load(&written) == root);
}

#[test]
fn encrypted_file_carries_a_sops_table() {
    let meta = sample_metadata(2);
    let doc = TomlStore.load_plain(CANONICAL.as_bytes()).unwrap();
    let bytes = TomlStore.emit_encrypted(doc.clone(), &meta).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\n[sops]\nshamir_threshold = 2\n"), "{text}");
    assert!(text.contains("\n[[sops.key_groups]]\n"), "{text}");
    assert!(text.contains("\n[[sops.key_groups.age]]\n"), "{text}");
    let (back, found) = TomlStore.load_encrypted(&bytes).unwrap();
    assert!(back == doc);
    assert_eq!(found, Some(meta.clone()));
    assert!(TomlStore.has_metadata(&TomlStore.load_plain(&bytes).unwrap()));
    assert_eq!(TomlStore.emit_encrypted(back, &meta).unwrap(), bytes);
}

#[test]
fn refuses_what_toml_cannot_hold() {
    for node in [
        Node::Scalar(Scalar::Null),
        Node::Scalar(Scalar::Bytes(vec![0xff])),
        Node::Scalar(Scalar::Time("not a time".into())),
    ] {
        let mut root = Map::new();
        root.push("v", node);
        assert!(TomlStore.emit_plain(&Document::single(root)).is_err());
    }
    let mut root = Map::new();
    root.items.push(MapItem::Comment("two\nlines".into()));
    assert!(TomlStore.emit_plain(&Document::single(root)).is_err());
}

#[test]
fn errors_do_not_quote_the_input() {
    let err = TomlStore
        .load_plain(b"password = \"hunter2\nnext = 1\n")
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn nesting_and_size_are_bounded() {
    let deep = format!("a = {}1{}\n", "[".repeat(5000), "]".repeat(5000));
    assert!(TomlStore.load_plain(deep.as_bytes()).is_err());
    let dotted = format!("{} = 1\n", vec!["k"; 5000].join("."));
    assert!(TomlStore.load_plain(dotted.as_bytes()).is_err());
    let huge = vec![b'#'; MAX_TOML_BYTES + 1];
    assert!(TomlStore.load_plain(&huge).is_err());
}

#[test]
fn extract_writes_a_value_or_a_table() {
    let root = load(CANONICAL);
    let out = |key: &str| {
        String::from_utf8(TomlStore.emit_value(root.get(key).unwrap()).unwrap()).unwrap()
    };
    assert_eq!(out("ports"), "[8001, 8002]\n");
    assert_eq!(out("point"), "x = 1\n\"y z\" = \"two\"\n");
}

// Generated documents, written in the store's layout: encrypting and decrypting them gives the
// same bytes back, and the TOML types survive.

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_]{1,6}", "[ -~]{0,4}", "\\PC{1,3}"]
}

fn comment() -> impl Strategy<Value = String> {
    "[ -~\t]{0,10}"
}

fn date_time() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("1979-05-27T00:32:00.999999-07:00".to_string()),
        Just("1979-05-27".to_string()),
        Just("07:32:00.5".to_string()),
        Just("1979-05-27T07:32:00".to_string()),
    ]
}

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        "\\PC{0,8}".prop_map(Scalar::Str),
        "[a\n\"\\\\\t\r]{0,6}".prop_map(Scalar::Str),
        any::<i64>().prop_map(Scalar::Int),
        any::<f64>()
            .prop_filter("NaN never equals itself", |f| !f.is_nan())
            .prop_map(Scalar::Float),
        any::<bool>().prop_map(Scalar::Bool),
        date_time().prop_map(Scalar::Time),
    ]
}

fn node() -> BoxedStrategy<Node> {
    scalar()
        .prop_map(Node::Scalar)
        .prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(
                    prop_oneof![
                        4 => inner.clone().prop_map(ListItem::Value),
                        1 => "[ -~\t]{1,10}".prop_map(ListItem::Comment),
                    ],
                    0..5
                )
                .prop_map(Node::List),
                map(inner).prop_map(Node::Map),
            ]
        })
        .boxed()
}

/// Unique keys, as TOML requires.
fn map(value: BoxedStrategy<Node>) -> impl Strategy<Value = Map> {
    proptest::collection::vec(
        prop_oneof![
            4 => (key(), value).prop_map(|(key, value)| MapItem::Entry { key, value }),
            1 => comment().prop_map(MapItem::Comment),
        ],
        0..6,
    )
    .prop_map(|items| {
        let mut seen = std::collections::HashSet::new();
        Map {
            items: items
                .into_iter()
                .filter(|item| match item {
                    MapItem::Entry { key, .. } => key != "sops" && seen.insert(key.clone()),
                    MapItem::Comment(_) => true,
                })
                .collect(),
        }
    })
}

proptest! {
    #[test]
    fn written_documents_read_back_to_the_same_tree(root in map(node())) {
        let text = emit(&root);
        let again = load(&text);
        prop_assert!(again == root, "{}", text);
    }

    #[test]
    fn decrypt_of_encrypt_gives_the_same_bytes(root in map(node())) {
        let plain = TomlStore.emit_plain(&Document::single(root)).unwrap();
        let mut doc = TomlStore.load_plain(&plain).unwrap();
        let cipher = Cipher::new(&DataKey::generate());
        let selector = Selector::default();
        let protection = Protection { selector: &selector, mac_only_encrypted: false };
        let mac = encrypt_document(&mut doc, &cipher, &protection, None).unwrap();
        let encrypted = TomlStore.emit_encrypted(doc, &sample_metadata(1)).unwrap();
        let (mut back, meta) = TomlStore.load_encrypted(&encrypted).unwrap();
        prop_assert_eq!(meta, Some(sample_metadata(1)));
        let opened = decrypt_document(&mut back, &cipher, &protection, None).unwrap();
        prop_assert_eq!(opened.mac, mac);
        prop_assert_eq!(TomlStore.emit_plain(&back).unwrap(), plain);
    }
}
