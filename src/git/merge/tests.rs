use super::*;
use crate::tree::Scalar;
use proptest::prelude::*;

fn s(v: &str) -> Node {
    Node::str(v)
}

fn map(entries: &[(&str, Node)]) -> Map {
    let mut m = Map::new();
    for (k, v) in entries {
        m.push(*k, v.clone());
    }
    m
}

fn doc(entries: &[(&str, Node)]) -> Document {
    Document::single(map(entries))
}

fn keys(d: &Document) -> Vec<String> {
    d.branches[0]
        .entries()
        .map(|(k, _)| k.to_string())
        .collect()
}

#[test]
fn changes_to_different_keys_merge_to_their_union() {
    let base = doc(&[("a", s("1")), ("b", s("2")), ("c", s("3"))]);
    let ours = doc(&[("a", s("1-ours")), ("b", s("2")), ("c", s("3"))]);
    let theirs = doc(&[("a", s("1")), ("b", s("2")), ("c", s("3-theirs"))]);
    let merged = merge(&base, &ours, &theirs);
    assert!(merged.is_clean());
    assert!(merged.doc == doc(&[("a", s("1-ours")), ("b", s("2")), ("c", s("3-theirs"))]));
}

#[test]
fn the_same_key_changed_differently_is_a_conflict_named_by_path_only() {
    let nested = |v: &str| Node::Map(map(&[("password", s(v))]));
    let base = doc(&[("db", nested("old-secret"))]);
    let ours = doc(&[("db", nested("ours-secret"))]);
    let theirs = doc(&[("db", nested("theirs-secret"))]);
    let merged = merge(&base, &ours, &theirs);
    assert_eq!(merged.conflicts, vec![r#"["db"]["password"]"#.to_string()]);
    assert!(!merged.conflicts.concat().contains("secret"));
}

#[test]
fn the_same_change_on_both_sides_is_no_conflict() {
    let base = doc(&[("a", s("1"))]);
    let both = doc(&[("a", s("2"))]);
    let merged = merge(&base, &both, &both);
    assert!(merged.is_clean() && merged.doc == both);
}

#[test]
fn additions_keep_their_place_and_deletions_apply() {
    let base = doc(&[("a", s("1")), ("b", s("2")), ("z", s("9"))]);
    let ours = doc(&[
        ("a", s("1")),
        ("b", s("2")),
        ("new_ours", s("o")),
        ("z", s("9")),
    ]);
    let theirs = doc(&[("a", s("1")), ("after_a", s("t")), ("z", s("9"))]);
    let merged = merge(&base, &ours, &theirs);
    assert!(merged.is_clean(), "{:?}", merged.conflicts);
    assert_eq!(keys(&merged.doc), ["a", "after_a", "new_ours", "z"]);
}

#[test]
fn deleting_a_key_the_other_side_changed_is_a_conflict() {
    let base = doc(&[("a", s("1")), ("b", s("2"))]);
    let ours = doc(&[("b", s("2"))]);
    let theirs = doc(&[("a", s("changed")), ("b", s("2"))]);
    assert_eq!(merge(&base, &ours, &theirs).conflicts, [r#"["a"]"#]);
}

#[test]
fn lists_merge_by_position_only_when_no_element_was_added_or_removed() {
    let list = |items: &[&str]| Node::List(items.iter().map(|v| ListItem::Value(s(v))).collect());
    let base = doc(&[("l", list(&["x", "y", "z"]))]);
    let ours = doc(&[("l", list(&["X", "y", "z"]))]);
    let theirs = doc(&[("l", list(&["x", "y", "Z"]))]);
    let merged = merge(&base, &ours, &theirs);
    assert!(merged.is_clean() && merged.doc == doc(&[("l", list(&["X", "y", "Z"]))]));

    let grown = doc(&[("l", list(&["x", "y", "z", "w"]))]);
    assert_eq!(merge(&base, &ours, &grown).conflicts, [r#"["l"]"#]);
}

#[test]
fn comments_travel_with_the_key_below_them() {
    let with_comment = |c: &str, v: &str| {
        let mut m = Map::new();
        m.items.push(MapItem::Comment(c.into()));
        m.push("a", s(v));
        m.push("b", s("2"));
        Document::single(m)
    };
    let base = with_comment(" old", "1");
    let ours = with_comment(" new", "1");
    let theirs = with_comment(" old", "changed");
    let merged = merge(&base, &ours, &theirs);
    assert!(merged.is_clean() && merged.doc == with_comment(" new", "changed"));
}

#[test]
fn typed_scalars_compare_by_type_and_value() {
    let base = doc(&[("n", Node::Scalar(Scalar::Int(1)))]);
    let ours = doc(&[("n", Node::Scalar(Scalar::Str("1".into())))]);
    let theirs = doc(&[("n", Node::Scalar(Scalar::Int(2)))]);
    assert_eq!(merge(&base, &ours, &theirs).conflicts, [r#"["n"]"#]);
}

#[test]
fn different_document_counts_on_both_sides_are_one_conflict() {
    let one = doc(&[("a", s("1"))]);
    let changed = doc(&[("a", s("2"))]);
    let two = Document {
        branches: vec![map(&[("a", s("1"))]), map(&[("b", s("2"))])],
    };
    assert_eq!(merge(&one, &changed, &two).conflicts.len(), 1);
}

fn arb_node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        "[a-c]{0,2}".prop_map(Node::str),
        (0i64..3).prop_map(|i| Node::Scalar(Scalar::Int(i))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(("[a-d]", inner.clone()), 0..4).prop_map(|entries| {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(&k, v);
                }
                Node::Map(m)
            }),
            proptest::collection::vec(inner, 0..3)
                .prop_map(|items| Node::List(items.into_iter().map(ListItem::Value).collect())),
        ]
    })
}

fn arb_doc() -> impl Strategy<Value = Document> {
    proptest::collection::vec(("[a-d]", arb_node()), 0..5).prop_map(|entries| {
        let mut m = Map::new();
        for (k, v) in entries {
            m.insert(&k, v);
        }
        Document::single(m)
    })
}

proptest! {
    #[test]
    fn a_side_that_changed_nothing_yields_the_other_side(base in arb_doc(), changed in arb_doc()) {
        let theirs_only = merge(&base, &base, &changed);
        prop_assert!(theirs_only.is_clean());
        prop_assert!(theirs_only.doc == changed);
        let ours_only = merge(&base, &changed, &base);
        prop_assert!(ours_only.is_clean());
        prop_assert!(ours_only.doc == changed);
        let both = merge(&base, &changed, &changed);
        prop_assert!(both.is_clean() && both.doc == changed);
    }

    #[test]
    fn merging_is_symmetric_in_its_verdict(base in arb_doc(), ours in arb_doc(), theirs in arb_doc()) {
        let forward = merge(&base, &ours, &theirs);
        let backward = merge(&base, &theirs, &ours);
        prop_assert_eq!(forward.is_clean(), backward.is_clean());
        if forward.is_clean() {
            // Same contents; key order may differ (each side's order wins on its own run).
            let sorted = |d: &Document| {
                let mut k: Vec<String> = d.branches[0].entries().map(|(k, _)| k.to_string()).collect();
                k.sort();
                k
            };
            prop_assert_eq!(sorted(&forward.doc), sorted(&backward.doc));
        }
    }
}

#[test]
fn an_untouched_nan_is_no_change() {
    let nan = doc(&[("x", Node::Scalar(Scalar::Float(f64::NAN))), ("a", s("1"))]);
    let changed = doc(&[("x", Node::Scalar(Scalar::Float(f64::NAN))), ("a", s("2"))]);
    let merged = merge(&nan, &nan, &changed);
    assert!(merged.is_clean());
    assert!(merged.doc.same(&changed));
}

#[test]
fn a_side_that_changed_the_number_of_documents_alone_wins() {
    let one = doc(&[("a", s("1"))]);
    let two = Document {
        branches: vec![map(&[("a", s("1"))]), map(&[("b", s("2"))])],
    };
    let merged = merge(&one, &one, &two);
    assert!(merged.is_clean() && merged.doc == two);
}
