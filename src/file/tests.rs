use super::*;
use crate::keys::KeyError;
use crate::metadata::{AgeStanza, KeyStanza};
use crate::stores::{store_for, Format, StoreOptions};

/// A stand-in key service: "wraps" by storing the secret in hex under the recipient's name and
/// unwraps only for the recipients it holds. It tests the file operations, not a key type.
struct FakeKeys(Vec<&'static str>);
struct FakeKey(String);

impl MasterKey for FakeKey {
    fn type_id(&self) -> &'static str {
        "age"
    }
    fn identity(&self) -> String {
        self.0.clone()
    }
    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        Ok(KeyStanza::Age(AgeStanza {
            recipient: self.0.clone(),
            enc: hex::encode(secret),
        }))
    }
}

impl KeyService for FakeKeys {
    fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        Ok(vec![Box::new(FakeKey(spec.identity()))])
    }
    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let KeyStanza::Age(a) = stanza else {
            return None;
        };
        self.0
            .contains(&a.recipient.as_str())
            .then(|| Ok(Zeroizing::new(hex::decode(&a.enc).unwrap())))
    }
}

fn yaml() -> Box<dyn Store> {
    store_for(Format::Yaml, StoreOptions::default())
}

fn spec(name: &str) -> Vec<Vec<KeySpec>> {
    vec![vec![KeySpec::Age(name.to_string())]]
}

/// `a: one`, `b: two` encrypted for the fake recipient `alice`.
fn encrypted() -> Vec<u8> {
    let keys = FakeKeys(vec!["alice"]);
    let store = yaml();
    let doc = store.load_plain(b"a: one\nb: two\n").unwrap();
    let master = master_keys(&keys, &spec("alice")).unwrap();
    let plan = EncryptPlan {
        key_groups: &master,
        shamir_threshold: 0,
        rule: PartialRule::None,
        mac_only_encrypted: false,
    };
    SopsFile::encrypt_new(doc, &plan, store.as_ref()).unwrap()
}

fn lines_with(text: &[u8], prefix: &str) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| l.trim_start().starts_with(prefix))
        .map(str::to_string)
        .collect()
}

fn open(bytes: &[u8], who: &'static str) -> Result<SopsFile, Error> {
    SopsFile::open(
        yaml().as_ref(),
        bytes,
        &FakeKeys(vec![who]),
        &SopsFile::default_order(),
    )
}

#[test]
fn reseal_keeps_the_ciphertext_of_unchanged_values() {
    let before = encrypted();
    let mut file = open(&before, "alice").unwrap();
    let b = crate::tree::path::parse_tree_path(r#"["b"]"#).unwrap();
    assert!(file.set(&b, Node::str("changed")).unwrap());
    let after = file.reseal(yaml().as_ref()).unwrap();
    assert_eq!(lines_with(&before, "a:"), lines_with(&after, "a:"));
    assert_ne!(lines_with(&before, "b:"), lines_with(&after, "b:"));
    let mut again = open(&after, "alice").unwrap();
    assert_eq!(
        again.extract(&b, yaml().as_ref()).unwrap().as_slice(),
        b"changed"
    );
}

#[test]
fn open_verifies_the_mac() {
    let bytes = String::from_utf8(encrypted()).unwrap();
    let mut file = EncryptedFile::load(yaml().as_ref(), bytes.as_bytes()).unwrap();
    file.meta.last_modified = "2001-01-01T00:00:00Z".into();
    let tampered = file.emit(yaml().as_ref()).unwrap();
    assert!(matches!(
        open(&tampered, "alice"),
        Err(Error::MacUnreadable(_))
    ));
    assert!(matches!(open(&encrypted(), "bob"), Err(Error::Recover(_))));
    assert!(matches!(open(b"a: 1\n", "alice"), Err(Error::NotEncrypted)));
}

#[test]
fn rotate_changes_the_data_key_and_the_recipients() {
    let before = encrypted();
    let mut file = open(&before, "alice").unwrap();
    file.rotate(&FakeKeys(vec![]), &spec("bob")).unwrap();
    let after = file.reseal(yaml().as_ref()).unwrap();
    assert!(open(&after, "alice").is_err());
    let reopened = open(&after, "bob").unwrap();
    assert_eq!(reopened.metadata().key_groups[0].keys[0].identity(), "bob");
    assert_ne!(lines_with(&before, "a:"), lines_with(&after, "a:"));
}

#[test]
fn update_keys_and_groups_leave_values_and_mac_alone() {
    let before = encrypted();
    let order = SopsFile::default_order();
    let alice = FakeKeys(vec!["alice"]);
    let mut file = EncryptedFile::load(yaml().as_ref(), &before).unwrap();
    file.update_keys(&alice, &order, &spec("carol"), 0).unwrap();
    file.add_group(&alice, &order, vec![KeySpec::Age("dave".into())], Some(2))
        .unwrap_err(); // alice no longer holds the file
    let updated = file.emit(yaml().as_ref()).unwrap();
    for prefix in ["a:", "b:", "mac:", "lastmodified:"] {
        assert_eq!(lines_with(&before, prefix), lines_with(&updated, prefix));
    }
    let mut file = EncryptedFile::load(yaml().as_ref(), &updated).unwrap();
    let carol = FakeKeys(vec!["carol"]);
    file.add_group(&carol, &order, vec![KeySpec::Age("dave".into())], Some(2))
        .unwrap();
    assert_eq!(file.meta.key_groups.len(), 2);
    let both = FakeKeys(vec!["carol", "dave"]);
    assert!(matches!(
        file.remove_group(&both, &order, 0, None),
        Err(Error::ThresholdUnreachable { .. })
    ));
    file.remove_group(&both, &order, 0, Some(1)).unwrap();
    let last = file.emit(yaml().as_ref()).unwrap();
    assert!(open(&last, "dave").is_ok());
}

#[test]
fn unset_reports_a_missing_key() {
    let mut file = open(&encrypted(), "alice").unwrap();
    let path = crate::tree::path::parse_tree_path(r#"["zz"]"#).unwrap();
    assert!(matches!(file.unset(&path), Err(Error::Unset(_))));
}

#[test]
fn a_value_taken_from_another_version_keeps_its_ciphertext_under_the_same_data_key() {
    let base = encrypted();
    let mut theirs = open(&base, "alice").unwrap();
    theirs
        .set(&[PathComponent::Key("b".into())], Node::str("theirs"))
        .unwrap();
    let theirs_bytes = theirs.reseal(yaml().as_ref()).unwrap();
    let theirs = open(&theirs_bytes, "alice").unwrap();
    let mut ours = open(&base, "alice").unwrap();
    assert!(ours.adopt_ivs(&theirs));
    ours.set(&[PathComponent::Key("b".into())], Node::str("theirs"))
        .unwrap();
    let merged = ours.reseal(yaml().as_ref()).unwrap();
    assert_eq!(lines_with(&merged, "b:"), lines_with(&theirs_bytes, "b:"));
    assert_eq!(lines_with(&merged, "a:"), lines_with(&base, "a:"));

    // Another data key: nothing is adopted.
    let other = open(&encrypted(), "alice").unwrap();
    let mut ours = open(&base, "alice").unwrap();
    assert!(!ours.adopt_ivs(&other));
}
